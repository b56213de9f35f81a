import type { Reading } from '@fogline/protocol'
import jsep from 'jsep'

/**
 * The filter/map expression language: parsed by jsep (a maintained, dependency-free JavaScript-expression
 * parser) into an AST that is compiled here into closures over a reading. Nothing is ever passed to eval or
 * Function, so a config (which may arrive from the cloud as desired state) can only compute, never run code:
 * the only names are the reading's fields and a fixed list of math functions.
 * @example compileExpr('value > 30 && metric == "temp"')(reading) // true or false
 */
export type Compiled = (r: Reading) => unknown

export const EXPR_NAMES = ['value', 'ts', 'sensorId', 'metric', 'fields'] as const

const FUNCTIONS: Record<string, (...a: number[]) => number> = {
  abs: Math.abs,
  min: Math.min,
  max: Math.max,
  round: Math.round,
  floor: Math.floor,
  ceil: Math.ceil,
  sqrt: Math.sqrt,
  pow: Math.pow,
  log: Math.log,
  log10: Math.log10,
  exp: Math.exp,
  sign: Math.sign,
}

const BINARY: Record<string, (a: any, b: any) => unknown> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '**': (a, b) => a ** b,
  // no coercion: == is ===, so "1" == 1 is false
  '==': (a, b) => a === b,
  '===': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '!==': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
}

export class ExprError extends Error {}

function compileNode(n: jsep.Expression): Compiled {
  switch (n.type) {
    case 'Literal': {
      const v = (n as jsep.Literal).value
      if (v instanceof RegExp) throw new ExprError('regular expressions are not supported')
      return () => v
    }
    case 'Identifier': {
      const name = (n as jsep.Identifier).name
      switch (name) {
        case 'value':
          return (r) => r.value
        case 'ts':
          return (r) => r.ts
        case 'sensorId':
          return (r) => r.sensorId
        case 'metric':
          return (r) => r.metric
        case 'fields':
          return (r) => r.fields ?? {}
        case 'true':
          return () => true
        case 'false':
          return () => false
      }
      throw new ExprError(`unknown name "${name}" (use ${EXPR_NAMES.join(', ')})`)
    }
    case 'MemberExpression': {
      const m = n as jsep.MemberExpression
      const obj = m.object as jsep.Identifier
      let key: unknown
      if (!m.computed && m.property.type === 'Identifier') key = (m.property as jsep.Identifier).name
      else if (m.computed && m.property.type === 'Literal') key = (m.property as jsep.Literal).value
      if (obj.type !== 'Identifier' || obj.name !== 'fields' || typeof key !== 'string')
        throw new ExprError('only fields.<name> or fields["name"] may be accessed')
      const k = key
      return (r) => r.fields?.[k]
    }
    case 'UnaryExpression': {
      const u = n as jsep.UnaryExpression
      const a = compileNode(u.argument)
      if (u.operator === '!') return (r) => !a(r)
      if (u.operator === '-') return (r) => -(a(r) as number)
      if (u.operator === '+') return (r) => +(a(r) as number)
      throw new ExprError(`operator ${u.operator} is not supported`)
    }
    case 'BinaryExpression': {
      const b = n as jsep.BinaryExpression
      const l = compileNode(b.left)
      const rr = compileNode(b.right)
      if (b.operator === '&&') return (r) => l(r) && rr(r)
      if (b.operator === '||') return (r) => l(r) || rr(r)
      const op = BINARY[b.operator]
      if (!op) throw new ExprError(`operator ${b.operator} is not supported`)
      return (r) => op(l(r), rr(r))
    }
    case 'ConditionalExpression': {
      const c = n as jsep.ConditionalExpression
      const t = compileNode(c.test)
      const y = compileNode(c.consequent)
      const z = compileNode(c.alternate)
      return (r) => (t(r) ? y(r) : z(r))
    }
    case 'CallExpression': {
      const c = n as jsep.CallExpression
      const callee = c.callee as jsep.Identifier
      // own keys only: `constructor` or `toString` must not reach Object.prototype
      const fn =
        callee.type === 'Identifier' && Object.hasOwn(FUNCTIONS, callee.name)
          ? FUNCTIONS[callee.name]
          : undefined
      if (!fn) throw new ExprError(`unknown function (use ${Object.keys(FUNCTIONS).join(', ')})`)
      const args = c.arguments.map(compileNode)
      return (r) => fn(...args.map((a) => a(r) as number))
    }
    default:
      throw new ExprError(`${n.type} is not supported in an expression`)
  }
}

/** Parse and compile; throws ExprError with a plain message when the text is not a valid expression. */
export function compileExpr(text: string): Compiled {
  let ast: jsep.Expression
  try {
    ast = jsep(text)
  } catch (e) {
    throw new ExprError(`does not parse: ${(e as Error).message}`)
  }
  return compileNode(ast)
}

/** A zod refinement: the string must compile; the issue carries FOG_EXPR_INVALID. */
export function checkExpr(text: string, ctx: { addIssue(i: unknown): void }): void {
  try {
    compileExpr(text)
  } catch (e) {
    ctx.addIssue({
      code: 'custom',
      message: `expression "${text}" ${(e as Error).message}`,
      params: { fogCode: 'FOG_EXPR_INVALID' },
    })
  }
}
