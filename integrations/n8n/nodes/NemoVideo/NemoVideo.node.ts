import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import {
	operationProperties,
	resourceProperty,
	sessionProperties,
	uploadProperties,
	videoProperties,
} from './descriptions';
import {
	asNodeError,
	downloadVideo,
	gatewayRequest,
	jsonObject,
	MAX_PREFER_WAIT_SECONDS,
	preferWait,
	splitList,
	unsuccessfulVideoError,
	waitForVideo,
} from './GenericFunctions';
import { sendMessage } from './session';
import { uploadMedia } from './upload';

/** The JSON body of `POST /v1/videos` from the node's parameters (exported for the unit tests). */
export function buildCreateBody(prompt: string, fields: IDataObject, metadata: IDataObject): IDataObject {
	const body: IDataObject = { prompt };
	if (fields.durationSeconds !== undefined) body.duration_seconds = fields.durationSeconds;
	if (fields.aspectRatio) body.aspect_ratio = fields.aspectRatio;
	if (fields.resolution) body.resolution = fields.resolution;
	if (fields.language) body.language = fields.language;
	const mediaUrls = splitList(fields.mediaUrls);
	if (mediaUrls.length) body.media_urls = mediaUrls;
	const uploadIds = splitList(fields.uploadIds);
	if (uploadIds.length) body.upload_ids = uploadIds;
	addWebhookFields(body, fields, metadata);
	return body;
}

/** The JSON body of `POST /v1/videos/{id}/edits` (exported for the unit tests). */
export function buildEditBody(instruction: string, fields: IDataObject, metadata: IDataObject): IDataObject {
	const body: IDataObject = { instruction };
	addWebhookFields(body, fields, metadata);
	return body;
}

function addWebhookFields(body: IDataObject, fields: IDataObject, metadata: IDataObject) {
	if (fields.webhookUrl) body.webhook_url = fields.webhookUrl;
	const filter = fields.webhookEventsFilter as string[] | undefined;
	if (fields.webhookUrl && filter?.length) body.webhook_events_filter = filter;
	if (Object.keys(metadata).length) body.metadata = metadata;
}

/** Headers of a create or edit call. */
export function buildCreateHeaders(fields: IDataObject, waitSeconds: number): IDataObject {
	const headers: IDataObject = { ...preferWait(waitSeconds) };
	if (fields.idempotencyKey) headers['Idempotency-Key'] = String(fields.idempotencyKey);
	if (fields.cancelAfter) headers['Cancel-After'] = String(fields.cancelAfter);
	return headers;
}

export class NemoVideo implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'NemoVideo',
		name: 'nemoVideo',
		icon: { light: 'file:../../icons/nemovideo.svg', dark: 'file:../../icons/nemovideo.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Generate, edit and download text-to-video MP4s with NemoVideo through nemo-gateway',
		defaults: { name: 'NemoVideo' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'nemoVideoApi', required: true }],
		properties: [
			resourceProperty,
			...operationProperties,
			...videoProperties,
			...sessionProperties,
			...uploadProperties,
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const out: INodeExecutionData[] = [];
		for (let i = 0; i < items.length; i++) {
			try {
				const resource = this.getNodeParameter('resource', i) as string;
				const operation = this.getNodeParameter('operation', i) as string;
				const results = await runOperation.call(this, resource, operation, i);
				for (const result of results) out.push({ ...result, pairedItem: { item: i } });
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this.getNode(), error, i);
				out.push({
					json: { error: (error as Error).message, ...((error as { context?: IDataObject }).context ?? {}) },
					pairedItem: { item: i },
				});
			}
		}
		return [out];
	}
}

async function runOperation(
	this: IExecuteFunctions,
	resource: string,
	operation: string,
	i: number,
): Promise<INodeExecutionData[]> {
	const videoPath = () =>
		`/v1/videos/${encodeURIComponent((this.getNodeParameter('videoId', i) as string).trim())}`;

	if (resource === 'video') {
		switch (operation) {
			case 'generate':
			case 'edit':
				return [await createAndMaybeWait.call(this, operation, i)];
			case 'get':
				return [{ json: await gatewayRequest.call(this, { method: 'GET', path: videoPath() }) }];
			case 'cancel':
				return [{ json: await gatewayRequest.call(this, { method: 'POST', path: `${videoPath()}/cancel` }) }];
			case 'download': {
				const video = (await gatewayRequest.call(this, { method: 'GET', path: videoPath() })) as IDataObject;
				if (video.status !== 'succeeded') {
					throw new NodeOperationError(this.getNode(), `Video ${video.id} has no MP4: it is ${video.status}`, {
						itemIndex: i,
					});
				}
				const property = this.getNodeParameter('binaryPropertyName', i) as string;
				return [{ json: video, binary: { [property]: await downloadVideo.call(this, video) } }];
			}
			case 'getAll':
				return (await listVideos.call(this, i)).map((video) => ({ json: video }));
		}
	}
	if (resource === 'session') {
		if (operation === 'sendMessage') return [{ json: await sendMessage.call(this, i) }];
		if (operation === 'create') {
			const language = (this.getNodeParameter('language', i, '') as string).trim();
			const body: IDataObject = language ? { language } : {};
			return [{ json: await gatewayRequest.call(this, { method: 'POST', path: '/v1/sessions', body }) }];
		}
		if (operation === 'get') {
			const sessionId = (this.getNodeParameter('sessionId', i) as string).trim();
			return [
				{ json: await gatewayRequest.call(this, { method: 'GET', path: `/v1/sessions/${encodeURIComponent(sessionId)}` }) },
			];
		}
	}
	if (resource === 'upload' && operation === 'create') {
		return [{ json: await uploadMedia.call(this, i) }];
	}
	if (resource === 'credit' && operation === 'get') {
		return [{ json: await gatewayRequest.call(this, { method: 'GET', path: '/v1/credits' }) }];
	}
	throw new NodeOperationError(this.getNode(), `Unsupported operation "${operation}" on "${resource}"`, {
		itemIndex: i,
	});
}

async function createAndMaybeWait(
	this: IExecuteFunctions,
	operation: string,
	i: number,
): Promise<INodeExecutionData> {
	const started = Date.now();
	const fields = this.getNodeParameter('additionalFields', i, {}) as IDataObject;
	const metadata = jsonObject(this.getNode(), fields.metadata, 'Metadata', i);
	const wait = this.getNodeParameter('waitForCompletion', i, true) as boolean;
	const maxWait = wait ? (this.getNodeParameter('maxWaitSeconds', i, 900) as number) : 0;

	let body: IDataObject;
	let path: string;
	if (operation === 'generate') {
		body = buildCreateBody(this.getNodeParameter('prompt', i) as string, fields, metadata);
		path = '/v1/videos';
	} else {
		const videoId = (this.getNodeParameter('videoId', i) as string).trim();
		body = buildEditBody(this.getNodeParameter('instruction', i) as string, fields, metadata);
		path = `/v1/videos/${encodeURIComponent(videoId)}/edits`;
	}
	const preferSeconds = Math.min(maxWait, MAX_PREFER_WAIT_SECONDS);
	let video = (await gatewayRequest.call(this, {
		method: 'POST',
		path,
		body,
		headers: buildCreateHeaders(fields, preferSeconds),
		timeoutSeconds: preferSeconds + 60,
	})) as IDataObject;
	if (!wait) return { json: video };

	video = await waitForVideo.call(this, video, started + maxWait * 1000, i);
	if (video.status !== 'succeeded') {
		const error = unsuccessfulVideoError(this.getNode(), video, i);
		Object.assign(error, { context: { video } });
		throw error;
	}
	if (!(this.getNodeParameter('download', i, true) as boolean)) return { json: video };
	const property = this.getNodeParameter('binaryPropertyName', i, 'data') as string;
	return { json: video, binary: { [property]: await downloadVideo.call(this, video) } };
}

/** `GET /v1/videos`, following `next_cursor` until the limit (or the end with Return All). */
export async function listVideos(this: IExecuteFunctions, i: number): Promise<IDataObject[]> {
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const limit = returnAll ? Infinity : (this.getNodeParameter('limit', i, 50) as number);
	const filters = this.getNodeParameter('filters', i, {}) as IDataObject;
	const videos: IDataObject[] = [];
	let cursor: string | undefined;
	do {
		const qs: IDataObject = { limit: Math.min(100, limit - videos.length) };
		if (filters.status) qs.status = filters.status;
		if (cursor) qs.cursor = cursor;
		const page = (await gatewayRequest.call(this, { method: 'GET', path: '/v1/videos', qs })) as IDataObject;
		videos.push(...((page.data as IDataObject[]) ?? []));
		cursor = page.has_more ? (page.next_cursor as string | undefined) : undefined;
	} while (cursor && videos.length < limit);
	return videos.slice(0, limit);
}
