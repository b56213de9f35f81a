export { addCommand, main, usage } from './main.js'
