import { createHmac, timingSafeEqual } from 'crypto';

/** How far a `webhook-timestamp` may be from now (Standard Webhooks default). */
export const TOLERANCE_SECONDS = 5 * 60;

export type Verdict = { ok: true } | { ok: false; reason: string };

function header(headers: Record<string, unknown>, name: string): string | undefined {
	const value = headers[name] ?? headers[name.toLowerCase()];
	if (Array.isArray(value)) return value.length ? String(value[0]) : undefined;
	return value === undefined || value === null ? undefined : String(value);
}

/** The HMAC key of a `whsec_...` secret (its base64 part, decoded). */
export function secretKey(secret: string): Buffer {
	return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function sign(secret: string, id: string, timestamp: number | string, body: Buffer | string): string {
	const mac = createHmac('sha256', secretKey(secret));
	mac.update(`${id}.${timestamp}.`);
	mac.update(body);
	return `v1,${mac.digest('base64')}`;
}

/**
 * Verifies a Standard Webhooks delivery: `webhook-id`, `webhook-timestamp`
 * (within the tolerance) and `webhook-signature` (space-separated
 * `v1,<base64>` entries, any of which may match, as during a secret rotation)
 * over the exact bytes received.
 */
export function verify(
	secret: string,
	headers: Record<string, unknown>,
	body: Buffer | string,
	nowSeconds: number = Math.floor(Date.now() / 1000),
	toleranceSeconds: number = TOLERANCE_SECONDS,
): Verdict {
	const id = header(headers, 'webhook-id');
	const timestamp = header(headers, 'webhook-timestamp');
	const signatures = header(headers, 'webhook-signature');
	if (!id || !timestamp || !signatures) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
	if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'malformed webhook-timestamp' };
	if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) {
		return { ok: false, reason: 'webhook-timestamp outside the tolerance' };
	}
	const expected = Buffer.from(sign(secret, id, timestamp, body).slice(3), 'base64');
	for (const entry of signatures.split(' ')) {
		const [version, value] = entry.split(',', 2);
		if (version !== 'v1' || !value) continue;
		const given = Buffer.from(value, 'base64');
		if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
	}
	return { ok: false, reason: 'no matching signature' };
}
