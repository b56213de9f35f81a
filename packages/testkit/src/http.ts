/**
 * fetch with a Fogline API token on every call (`Authorization: Bearer <token>`).
 * @example const get = bearerFetch((await cloud.tokens.create({ name: 't', role: 'viewer' })).token); await get(`${url}/api/nodes`)
 */
export function bearerFetch(token: string): (url: string, init?: RequestInit) => Promise<Response> {
  return (url, init = {}) =>
    fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` },
    })
}
