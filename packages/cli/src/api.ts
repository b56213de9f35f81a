import { FoglineError } from '@fogline/protocol'

/** The cloud URL from --url, $FOGLINE_URL or the default, checked. */
export function cloudUrl(flag: string | undefined): string {
  const url = (flag ?? process.env.FOGLINE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
  if (!/^https?:\/\//.test(url))
    throw new FoglineError('FOG_CONFIG_INVALID', `--url must start with http:// or https://, got "${url}"`, {
      field: '--url',
    })
  return url
}

/** The API token from --token or $FOGLINE_TOKEN (a flag shows in `ps`; the variable does not). */
export function apiToken(flag: string | undefined): string | undefined {
  return flag ?? process.env.FOGLINE_TOKEN ?? undefined
}

/** Authorization header for a token, if any. */
export function authHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {}
}
