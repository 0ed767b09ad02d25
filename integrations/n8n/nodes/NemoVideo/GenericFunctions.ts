import type {
	IBinaryData,
	IDataObject,
	IExecuteFunctions,
	IHookFunctions,
	IHttpRequestMethods,
	IHttpRequestOptions,
	INode,
	IWebhookFunctions,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError, sleep } from 'n8n-workflow';

export const CREDENTIALS = 'nemoVideoApi';

/** The longest `Prefer: wait` the gateway honours (its default cap). */
export const MAX_PREFER_WAIT_SECONDS = 60;

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled'];

type Context = IExecuteFunctions | IHookFunctions | IWebhookFunctions;

export interface GatewayRequest {
	method: IHttpRequestMethods;
	path: string;
	body?: IDataObject | Buffer;
	qs?: IDataObject;
	headers?: IDataObject;
	/** Seconds before the HTTP client gives up (default 60, plus any `Prefer: wait`). */
	timeoutSeconds?: number;
	/** Answer the body as a stream (downloads) instead of parsed JSON. */
	stream?: boolean;
}

/** The problem+json object (RFC 9457) of a failed call, wherever the HTTP client put it. */
export function problemOf(error: unknown): IDataObject | undefined {
	const e = error as IDataObject & {
		response?: { data?: unknown; body?: unknown };
		cause?: { response?: { data?: unknown; body?: unknown } };
		context?: { data?: unknown };
	};
	const candidates = [
		// n8n's request helper already wraps HTTP errors in a NodeApiError with a
		// generic message, keeping the response body here
		e?.context?.data,
		e?.response?.data,
		e?.response?.body,
		e?.cause?.response?.data,
		e?.cause?.response?.body,
		e?.error,
	];
	for (let candidate of candidates) {
		if (Buffer.isBuffer(candidate)) candidate = candidate.toString('utf8');
		if (typeof candidate === 'string') {
			try {
				candidate = JSON.parse(candidate);
			} catch {
				continue;
			}
		}
		if (candidate && typeof candidate === 'object' && ('code' in candidate || 'detail' in candidate)) {
			return candidate as IDataObject;
		}
	}
	return undefined;
}

/** A NodeApiError carrying the gateway's problem+json title, detail, code and status. */
export function toNodeApiError(node: INode, error: unknown): NodeApiError {
	const problem = problemOf(error);
	if (!problem) return error instanceof NodeApiError ? error : new NodeApiError(node, error as JsonObject);
	const status =
		problem.status ??
		(error as { response?: { status?: number } })?.response?.status ??
		(error as NodeApiError)?.httpCode;
	const parts = [problem.detail, problem.code ? `(code: ${problem.code})` : undefined];
	const invalid = Array.isArray(problem.errors)
		? (problem.errors as IDataObject[]).map((f) => `${f.field}: ${f.message}`).join('; ')
		: '';
	if (invalid) parts.push(`— ${invalid}`);
	if (problem.registration_url) parts.push(`Register at ${problem.registration_url}`);
	return new NodeApiError(node, problem as JsonObject, {
		message: String(problem.title ?? problem.code ?? 'NemoVideo gateway error'),
		description: parts.filter(Boolean).join(' '),
		httpCode: status === undefined ? undefined : String(status),
	});
}

/** The error as n8n shows it: node errors pass through, anything else becomes a NodeOperationError. */
export function asNodeError(node: INode, error: unknown, itemIndex?: number): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	return new NodeOperationError(node, error as Error, { itemIndex });
}

export function httpStatusOf(error: unknown): number | undefined {
	const code = (error as NodeApiError)?.httpCode;
	return code ? Number(code) : undefined;
}

/** Builds the request options for a gateway call (exported for the unit tests). */
export function buildRequestOptions(baseUrl: string, request: GatewayRequest): IHttpRequestOptions {
	const options: IHttpRequestOptions = {
		method: request.method,
		url: `${baseUrl.replace(/\/+$/, '')}${request.path}`,
		headers: { Accept: 'application/json', ...(request.headers ?? {}) },
		timeout: (request.timeoutSeconds ?? 60) * 1000,
	};
	if (request.qs && Object.keys(request.qs).length) options.qs = request.qs;
	if (request.stream) {
		options.encoding = 'stream';
		options.json = false;
		options.headers = { ...options.headers, Accept: 'video/mp4, application/problem+json' };
	} else if (Buffer.isBuffer(request.body)) {
		options.body = request.body;
		options.json = false;
	} else {
		options.json = true;
		if (request.body !== undefined) options.body = request.body;
	}
	return options;
}

export async function gatewayRequest(this: Context, request: GatewayRequest): Promise<any> {
	const credentials = await this.getCredentials(CREDENTIALS);
	const options = buildRequestOptions(String(credentials.baseUrl), request);
	try {
		return await this.helpers.httpRequestWithAuthentication.call(this, CREDENTIALS, options);
	} catch (error) {
		throw toNodeApiError(this.getNode(), error);
	}
}

/** `Prefer: wait=N` for a request that may hold up to `seconds` (capped by the gateway's maximum). */
export function preferWait(seconds: number): IDataObject {
	const wait = Math.max(0, Math.min(MAX_PREFER_WAIT_SECONDS, Math.floor(seconds)));
	return wait > 0 ? { Prefer: `wait=${wait}` } : {};
}

/**
 * Polls a video until it is finished or `deadline` (epoch ms) passes. The first
 * poll comes after one second, then every 1.5 times longer, at most 15 s apart.
 */
export async function waitForVideo(
	this: IExecuteFunctions,
	video: IDataObject,
	deadline: number,
	itemIndex: number,
): Promise<IDataObject> {
	let delay = 1000;
	while (!TERMINAL_STATUSES.includes(String(video.status))) {
		const remaining = deadline - Date.now();
		if (remaining <= 0) {
			throw new NodeOperationError(
				this.getNode(),
				`Video ${video.id} is still ${video.status} (${video.progress ?? 0}%, stage ${video.stage ?? 'n/a'}) after the maximum wait`,
				{
					itemIndex,
					description:
						'Raise "Max Wait (Seconds)", or turn "Wait for Completion" off and use the NemoVideo Trigger (or Video > Get) to pick the result up later.',
				},
			);
		}
		await sleep(Math.min(delay, remaining));
		delay = Math.min(delay * 1.5, 15000);
		video = (await gatewayRequest.call(this, {
			method: 'GET',
			path: `/v1/videos/${encodeURIComponent(String(video.id))}`,
		})) as IDataObject;
	}
	return video;
}

/** A finished video that did not succeed, as an error naming the gateway's reason. */
export function unsuccessfulVideoError(node: INode, video: IDataObject, itemIndex: number) {
	const error = (video.error ?? {}) as IDataObject;
	const reason = error.code ? `${error.code}: ${error.message ?? ''}`.trim() : 'no reason given';
	return new NodeOperationError(node, `Video ${video.id} ${video.status} (${reason})`, {
		itemIndex,
		description: error.registration_url
			? `Register at ${error.registration_url} to keep going.`
			: error.retryable
				? 'The gateway marks this failure as retryable: the same request may succeed later.'
				: undefined,
	});
}

/**
 * Downloads the MP4 as n8n binary data. The body is handed to n8n as a stream,
 * so with n8n's filesystem (or S3) binary-data mode the file goes to disk
 * without being held whole in memory.
 */
export async function downloadVideo(this: IExecuteFunctions, video: IDataObject): Promise<IBinaryData> {
	const stream = await gatewayRequest.call(this, {
		method: 'GET',
		path: `/v1/videos/${encodeURIComponent(String(video.id))}/content`,
		stream: true,
		timeoutSeconds: 600,
	});
	return await this.helpers.prepareBinaryData(stream, `${video.id}.mp4`, 'video/mp4');
}

/** "a, b\nc" -> ["a", "b", "c"]; arrays pass through. */
export function splitList(value: unknown): string[] {
	if (Array.isArray(value)) return value.map(String).map((v) => v.trim()).filter(Boolean);
	if (typeof value !== 'string') return [];
	return value
		.split(/[\n,]/)
		.map((v) => v.trim())
		.filter(Boolean);
}

/** A JSON parameter that may arrive as an object or as text. */
export function jsonObject(node: INode, value: unknown, name: string, itemIndex: number): IDataObject {
	if (value === undefined || value === null || value === '') return {};
	if (typeof value === 'object' && !Array.isArray(value)) return value as IDataObject;
	if (typeof value === 'string') {
		try {
			const parsed = JSON.parse(value);
			if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as IDataObject;
		} catch {
			// reported below
		}
	}
	throw new NodeOperationError(node, `${name} must be a JSON object`, { itemIndex });
}
