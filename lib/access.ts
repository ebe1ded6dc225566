// Who may call what. One interceptor on every gRPC server checks the bearer
// token and the caller's roles against this table before any handler runs,
// so a direct gRPC client, the local edge and Envoy (which forwards the
// `authorization` header as metadata) get the same answer. What needs the
// data (is this order the caller's?) is checked where the data is read,
// with `mayActFor`.
import { Metadata, status, type ServerInterceptor, ServerInterceptingCall } from '@grpc/grpc-js';
import { AuthError, ROLES, type Principal, type Role, type TokenVerifier } from './auth';
import type { Logger } from './logger';
import { grpcRequests } from './metrics';

interface Rule {
  roles: Role[];
  /** A customer may name only their own user id (the request's `user_id`). */
  ownUser?: boolean;
}

const ANYONE: Role[] = ['customer', 'staff', 'service'];
const STAFF: Role[] = ['staff', 'service'];

/** By method name; a method not listed is for staff and services only. */
const RULES: Record<string, Rule> = {
  CreateOrder: { roles: ANYONE, ownUser: true },
  ProcessPayment: { roles: ANYONE },
  CancelOrder: { roles: ANYONE },
  ShipOrder: { roles: STAFF },
  CompleteOrder: { roles: STAFF },
  UpdateInventory: { roles: STAFF },
  GetOrder: { roles: ANYONE },
  WatchOrder: { roles: ANYONE },
  ListUserOrders: { roles: ANYONE, ownUser: true },
  GetUserSummary: { roles: ANYONE, ownUser: true },
  GetInventory: { roles: ANYONE },
  GetProductInventory: { roles: ANYONE },
  WatchInventory: { roles: ANYONE },
  ListOrders: { roles: STAFF },
  GetOrderStatistics: { roles: STAFF },
  WatchOrderStatistics: { roles: STAFF },
};

/** Health and reflection stay open: load balancers and grpcurl carry no tokens. */
const OPEN = /^\/grpc\.(health\.v1|reflection\.v1(alpha)?)\.|\/Get(Command|Query)Health$/;

/** Metadata the interceptor sets for handlers, after dropping whatever the client sent under these names. */
const SUBJECT = 'x-cqrs-subject';
const ROLES_MD = 'x-cqrs-roles';

/** The caller as the interceptor saw it; undefined with authentication off. */
export function principalOf(md: Record<string, string>): Principal | undefined {
  const subject = md[SUBJECT];
  if (subject === undefined) return undefined;
  return { subject, roles: (md[ROLES_MD] ?? '').split(',').filter((r): r is Role => ROLES.includes(r as Role)) };
}

const privileged = (p: Principal) => p.roles.some((r) => STAFF.includes(r));

/** May the caller act on data of this user? Always, with authentication off. */
export function mayActFor(md: Record<string, string>, userId: number): boolean {
  const p = principalOf(md);
  return !p || privileged(p) || p.subject === String(userId);
}

export function accessInterceptor(verifier: TokenVerifier, log: Logger): ServerInterceptor {
  return (method, call) => {
    if (OPEN.test(method.path)) return new ServerInterceptingCall(call);
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    const rule = RULES[name] ?? { roles: STAFF };
    let principal: Principal | undefined;
    const refuse = (code: status, details: string, trailer?: Metadata) => {
      log.info({ method: name, code: status[code], subject: principal?.subject, reason: details }, 'call refused: access');
      grpcRequests.inc({ service: method.path.slice(1, method.path.lastIndexOf('/')), method: name, code: status[code] });
      call.sendStatus({ code, details, metadata: trailer ?? new Metadata() });
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (md, mdNext) => {
            md.remove(SUBJECT);
            md.remove(ROLES_MD);
            const auth = md.get('authorization')[0];
            verifier.verify(typeof auth === 'string' ? auth : undefined).then(
              (p) => {
                principal = p;
                if (!p.roles.some((r) => rule.roles.includes(r))) return refuse(status.PERMISSION_DENIED, `${name} needs one of the roles ${rule.roles.join(', ')}`);
                md.set(SUBJECT, p.subject);
                md.set(ROLES_MD, p.roles.join(','));
                mdNext(md);
              },
              (err: AuthError) => refuse(status.UNAUTHENTICATED, err.message, challenge(err)),
            );
          },
          onReceiveMessage: (message: { userId?: number }, msgNext) => {
            // A message that did not decode has no user id: the handler answers INVALID_ARGUMENT.
            const named = typeof message === 'object' && message !== null && 'userId' in message;
            if (rule.ownUser && named && principal && !privileged(principal) && String(message.userId) !== principal.subject) {
              return refuse(status.PERMISSION_DENIED, `user_id ${message?.userId} is not the caller's own (${principal.subject})`);
            }
            msgNext(message);
          },
        }),
    });
  };
}

/** RFC 6750's challenge, as Envoy's jwt_authn sends it (the edge turns it into WWW-Authenticate). */
function challenge(err: AuthError): Metadata {
  const md = new Metadata();
  md.set('www-authenticate', err.missing ? 'Bearer realm="cqrs-mesh"' : 'Bearer realm="cqrs-mesh", error="invalid_token"');
  return md;
}
