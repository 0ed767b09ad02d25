import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError, sleep } from 'n8n-workflow';

import { gatewayRequest, MAX_PREFER_WAIT_SECONDS, preferWait, splitList } from './GenericFunctions';

/** Message statuses after which the reply will not change any more. */
export const MESSAGE_DONE = ['succeeded', 'failed', 'canceled'];

export function buildMessageBody(text: string, fields: IDataObject): IDataObject {
	const body: IDataObject = { text };
	const mediaUrls = splitList(fields.mediaUrls);
	if (mediaUrls.length) body.media_urls = mediaUrls;
	const uploadIds = splitList(fields.uploadIds);
	if (uploadIds.length) body.upload_ids = uploadIds;
	return body;
}

/**
 * `POST /v1/sessions/{id}/messages` holding up to `Prefer: wait`; a message
 * still running after that (202) is polled at
 * `GET /v1/sessions/{id}/messages/{mid}` until it is done or the maximum wait passes.
 */
export async function sendMessage(this: IExecuteFunctions, i: number): Promise<IDataObject> {
	const started = Date.now();
	const sessionId = (this.getNodeParameter('sessionId', i) as string).trim();
	const text = this.getNodeParameter('text', i) as string;
	const maxWait = this.getNodeParameter('maxWaitSeconds', i, 300) as number;
	const fields = this.getNodeParameter('additionalFields', i, {}) as IDataObject;
	const path = `/v1/sessions/${encodeURIComponent(sessionId)}/messages`;
	const preferSeconds = Math.min(maxWait, MAX_PREFER_WAIT_SECONDS);
	let message = (await gatewayRequest.call(this, {
		method: 'POST',
		path,
		body: buildMessageBody(text, fields),
		headers: preferWait(preferSeconds),
		timeoutSeconds: preferSeconds + 60,
	})) as IDataObject;
	if (maxWait <= 0) return message;

	let delay = 1000;
	while (message.status && !MESSAGE_DONE.includes(String(message.status))) {
		const remaining = started + maxWait * 1000 - Date.now();
		if (remaining <= 0) {
			throw new NodeOperationError(
				this.getNode(),
				`Message ${message.id} in session ${sessionId} is still ${message.status} after the maximum wait`,
				{ itemIndex: i },
			);
		}
		await sleep(Math.min(delay, remaining));
		delay = Math.min(delay * 1.5, 15000);
		message = (await gatewayRequest.call(this, {
			method: 'GET',
			path: `${path}/${encodeURIComponent(String(message.id))}`,
		})) as IDataObject;
	}
	if (message.status === 'failed' || message.status === 'canceled') {
		const error = (message.error ?? {}) as IDataObject;
		const failure = new NodeOperationError(
			this.getNode(),
			`Message ${message.id} ${message.status} (${error.code ? `${error.code}: ${error.message ?? ''}` : 'no reason given'})`,
			{ itemIndex: i },
		);
		Object.assign(failure, { context: { message } });
		throw failure;
	}
	return message;
}
