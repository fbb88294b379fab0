import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";

/** The cookie `/login` sets: the token, HttpOnly and SameSite=Strict, so only this site's own pages send it. */
export const TOKEN_COOKIE = "rtb_token";

/**
 * The header every request that changes something must carry. A page of another site cannot send a custom header
 * here without a CORS preflight this server never answers, so a forged form or image request is refused even when
 * the browser attaches the cookie.
 */
export const WRITE_HEADER = "x-rtb-request";

/** The token a request carries: `Authorization: Bearer …`, else the cookie. */
export function tokenOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === TOKEN_COOKIE) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

/** Compares in time that does not depend on where the strings differ. */
function sameToken(given: string | undefined, token: Buffer): boolean {
  if (given === undefined) return false;
  const bytes = Buffer.from(given);
  return bytes.length === token.length && timingSafeEqual(bytes, token);
}

/**
 * Guards `/api/`: a request without the token is refused (401), and one that would change something (any method
 * but GET and HEAD) without {@link WRITE_HEADER} too (403). `/login?token=…` checks the token and sets the cookie.
 */
export function registerAuth(app: FastifyInstance, token: string): void {
  const secret = Buffer.from(token);
  app.addHook("onRequest", async (request, reply) => {
    if (!request.url.startsWith("/api/")) return;
    if (!sameToken(tokenOf(request), secret))
      return reply.status(401).send({ error: "the web token is missing or wrong: open the URL rtb printed, or send Authorization: Bearer <token>" });
    if (request.method !== "GET" && request.method !== "HEAD" && request.headers[WRITE_HEADER] !== "1") {
      return reply.status(403).send({ error: `a request that changes something must carry the header ${WRITE_HEADER}: 1` });
    }
  });
  app.get<{ Querystring: { token?: string } }>("/login", async (request, reply) => {
    if (!sameToken(request.query.token, secret)) return reply.status(401).type("text/plain").send("wrong or missing token\n");
    const secure = request.protocol === "https" ? "; Secure" : "";
    return reply
      .header("set-cookie", `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure}`)
      .header("cache-control", "no-store")
      .redirect("/", 303);
  });
}
