import type {
	IDataObject,
	IHookFunctions,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { gatewayRequest, httpStatusOf, toNodeApiError } from '../NemoVideo/GenericFunctions';
import { verify } from './signature';

interface Subscription extends IDataObject {
	id: string;
	url: string;
	events?: string[];
	secret?: string;
}

function sameEvents(a: unknown, b: string[]): boolean {
	if (!Array.isArray(a)) return false;
	return [...a].sort().join(',') === [...b].sort().join(',');
}

function subscriptionsOf(answer: unknown): Subscription[] {
	if (Array.isArray(answer)) return answer as Subscription[];
	const data = (answer as IDataObject)?.data;
	return Array.isArray(data) ? (data as Subscription[]) : [];
}

export class NemoVideoTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'NemoVideo Trigger',
		name: 'nemoVideoTrigger',
		icon: { light: 'file:../../icons/nemovideo.svg', dark: 'file:../../icons/nemovideo.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"On " + $parameter["events"].join(", ")}}',
		description: 'Starts the workflow when a NemoVideo video is finished (signed gateway webhooks)',
		defaults: { name: 'NemoVideo Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'nemoVideoApi', required: true }],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: 'webhook',
			},
		],
		properties: [
			{
				displayName: 'Events',
				name: 'events',
				type: 'multiOptions',
				required: true,
				options: [
					{ name: 'Video Canceled', value: 'video.canceled' },
					{ name: 'Video Completed', value: 'video.completed', description: 'The MP4 is ready' },
					{ name: 'Video Failed', value: 'video.failed' },
					{
						name: 'Video Progress',
						value: 'video.progress',
						description: 'Stage changes of running videos (a handful per video)',
					},
					{
						name: 'Video Started',
						value: 'video.started',
						description: 'Work on a video began',
					},
				],
				default: ['video.completed', 'video.failed'],
			},
		],
	};

	webhookMethods = {
		default: {
			/**
			 * True when the subscription saved in this node's static data still exists
			 * with this webhook URL and these events. A stale one (other URL or
			 * events) is removed so that `create` makes a fresh one.
			 */
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node');
				const url = this.getNodeWebhookUrl('default') as string;
				const events = this.getNodeParameter('events') as string[];
				if (!data.webhookId) return false;
				let subscription: Subscription | undefined;
				try {
					subscription = (await gatewayRequest.call(this, {
						method: 'GET',
						path: `/v1/webhooks/${encodeURIComponent(String(data.webhookId))}`,
					})) as Subscription;
				} catch (error) {
					if (httpStatusOf(error) !== 404) throw toNodeApiError(this.getNode(), error);
				}
				if (subscription && subscription.url === url && sameEvents(subscription.events, events) && data.webhookSecret) {
					return true;
				}
				if (subscription) {
					await gatewayRequest.call(this, {
						method: 'DELETE',
						path: `/v1/webhooks/${encodeURIComponent(subscription.id)}`,
					});
				}
				delete data.webhookId;
				delete data.webhookSecret;
				return false;
			},

			/** `POST /v1/webhooks`; the secret is only shown now, so it is kept in static data. */
			async create(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node');
				const url = this.getNodeWebhookUrl('default') as string;
				const events = this.getNodeParameter('events') as string[];
				// Subscriptions to this URL whose secret was lost cannot be verified: remove them.
				const existing = subscriptionsOf(
					await gatewayRequest.call(this, { method: 'GET', path: '/v1/webhooks' }),
				);
				for (const old of existing.filter((s) => s.url === url)) {
					await gatewayRequest.call(this, { method: 'DELETE', path: `/v1/webhooks/${encodeURIComponent(old.id)}` });
				}
				const workflow = this.getWorkflow();
				const subscription = (await gatewayRequest.call(this, {
					method: 'POST',
					path: '/v1/webhooks',
					body: {
						url,
						events,
						description: `n8n: workflow "${workflow.name ?? workflow.id}", node "${this.getNode().name}"`,
					},
				})) as Subscription;
				data.webhookId = subscription.id;
				data.webhookSecret = subscription.secret;
				return true;
			},

			/** `DELETE /v1/webhooks/{id}`; one already gone counts as deleted. */
			async delete(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node');
				if (data.webhookId) {
					try {
						await gatewayRequest.call(this, {
							method: 'DELETE',
							path: `/v1/webhooks/${encodeURIComponent(String(data.webhookId))}`,
						});
					} catch (error) {
						if (httpStatusOf(error) !== 404) throw toNodeApiError(this.getNode(), error);
					}
				}
				delete data.webhookId;
				delete data.webhookSecret;
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const req = this.getRequestObject() as ReturnType<IWebhookFunctions['getRequestObject']> & {
			rawBody?: Buffer;
			readRawBody?: () => Promise<void>;
		};
		const secret = this.getWorkflowStaticData('node').webhookSecret as string | undefined;
		if (!req.rawBody && req.readRawBody) await req.readRawBody();
		const raw = req.rawBody ?? Buffer.from(JSON.stringify(this.getBodyData()));
		const verdict = secret
			? verify(secret, req.headers as Record<string, unknown>, raw)
			: ({ ok: false, reason: 'no subscription secret saved for this trigger' } as const);
		if (!verdict.ok) {
			const res = this.getResponseObject();
			res.status(401).json({ error: 'invalid webhook signature', reason: verdict.reason });
			return { noWebhookResponse: true };
		}
		const body = this.getBodyData();
		const events = this.getNodeParameter('events') as string[];
		if (!events.includes(String(body.type))) {
			return { webhookResponse: { received: true, ignored: body.type } };
		}
		return {
			workflowData: [
				this.helpers.returnJsonArray([{ ...body, webhook_id: req.headers['webhook-id'] as string }]),
			],
		};
	}
}
