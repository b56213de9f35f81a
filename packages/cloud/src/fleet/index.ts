export { Fleet } from './fleet.js'
export { isOnline, toNodeView } from './view.js'
