'use strict';
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');

const { NemoVideoTrigger } = require('../dist/nodes/NemoVideoTrigger/NemoVideoTrigger.node.js');
const { verify, sign } = require('../dist/nodes/NemoVideoTrigger/signature.js');
const { baseContext, router, problemError } = require('./helpers.js');

const trigger = new NemoVideoTrigger();
const hooks = trigger.webhookMethods.default;
const HOOK_URL = 'http://n8n.test/webhook/abc/webhook';
const SECRET = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

function hookContext(routes, staticData = {}, events = ['video.completed', 'video.failed']) {
	const ctx = baseContext({ params: { events }, answer: router(routes), staticData });
	ctx.getNodeWebhookUrl = () => HOOK_URL;
	return ctx;
}

describe('Standard Webhooks signature', () => {
	test('the specification example verifies', () => {
		// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
		const headers = {
			'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
			'webhook-timestamp': '1614265330',
			'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
		};
		const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
		assert.deepEqual(verify(secret, headers, '{"test": 2432232314}', 1614265330), { ok: true });
		assert.equal(sign(secret, headers['webhook-id'], 1614265330, '{"test": 2432232314}'), headers['webhook-signature']);
	});

	test('tampering, wrong secrets, stale timestamps and missing headers fail; any of several signatures may match', () => {
		const now = 1700000000;
		const body = Buffer.from('{"type":"video.completed"}');
		const good = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(now), 'webhook-signature': sign(SECRET, 'evt_1', now, body) };
		assert.equal(verify(SECRET, good, body, now).ok, true);
		assert.equal(verify(SECRET, good, Buffer.from('{"type":"video.failed"}'), now).ok, false);
		assert.equal(verify('whsec_' + Buffer.from('other').toString('base64'), good, body, now).ok, false);
		assert.equal(verify(SECRET, good, body, now + 301).reason, 'webhook-timestamp outside the tolerance');
		assert.equal(verify(SECRET, { ...good, 'webhook-id': undefined }, body, now).ok, false);
		const rotated = { ...good, 'webhook-signature': `v1,AAAA v2,xyz ${good['webhook-signature']}` };
		assert.equal(verify(SECRET, rotated, body, now).ok, true);
	});
});

describe('subscription lifecycle', () => {
	test('create removes orphans to the same URL, subscribes and keeps id + secret', async () => {
		const ctx = hookContext({
			'GET /v1/webhooks': { object: 'list', data: [{ id: 'wh_old', url: HOOK_URL }, { id: 'wh_other', url: 'http://x/' }] },
			'DELETE /v1/webhooks/wh_old': {},
			'POST /v1/webhooks': (o) => ({ id: 'wh_1', url: o.body.url, events: o.body.events, secret: SECRET }),
		});
		assert.equal(await hooks.checkExists.call(ctx), false);
		assert.equal(await hooks.create.call(ctx), true);
		const post = ctx.requests.find((r) => r.method === 'POST');
		assert.equal(post.body.url, HOOK_URL);
		assert.deepEqual(post.body.events, ['video.completed', 'video.failed']);
		assert.match(post.body.description, /n8n/);
		assert.deepEqual(ctx.requests.map((r) => `${r.method} ${r.url.replace('http://gateway.test:8080', '')}`), [
			'GET /v1/webhooks',
			'DELETE /v1/webhooks/wh_old',
			'POST /v1/webhooks',
		]);
		assert.deepEqual(ctx.staticData, { webhookId: 'wh_1', webhookSecret: SECRET });
	});

	test('checkExists: true for the same URL and events; a changed one is deleted; a vanished one is forgotten', async () => {
		const same = hookContext(
			{ 'GET /v1/webhooks/wh_1': { id: 'wh_1', url: HOOK_URL, events: ['video.failed', 'video.completed'] } },
			{ webhookId: 'wh_1', webhookSecret: SECRET },
		);
		assert.equal(await hooks.checkExists.call(same), true);

		const changed = hookContext(
			{ 'GET /v1/webhooks/wh_1': { id: 'wh_1', url: HOOK_URL, events: ['video.completed'] }, 'DELETE /v1/webhooks/wh_1': {} },
			{ webhookId: 'wh_1', webhookSecret: SECRET },
		);
		assert.equal(await hooks.checkExists.call(changed), false);
		assert.equal(changed.requests[1].method, 'DELETE');
		assert.deepEqual(changed.staticData, {});

		const gone = hookContext(
			{ 'GET /v1/webhooks/wh_1': problemError(404, 'not_found', 'No such webhook.') },
			{ webhookId: 'wh_1', webhookSecret: SECRET },
		);
		assert.equal(await hooks.checkExists.call(gone), false);
		assert.deepEqual(gone.staticData, {});

		const broken = hookContext(
			{ 'GET /v1/webhooks/wh_1': problemError(500, 'internal_error', 'Boom.') },
			{ webhookId: 'wh_1', webhookSecret: SECRET },
		);
		await assert.rejects(hooks.checkExists.call(broken), /internal error/);
	});

	test('delete unsubscribes; one already gone counts as deleted', async () => {
		const ctx = hookContext({ 'DELETE /v1/webhooks/wh_1': {} }, { webhookId: 'wh_1', webhookSecret: SECRET });
		assert.equal(await hooks.delete.call(ctx), true);
		assert.equal(ctx.requests[0].method, 'DELETE');
		assert.deepEqual(ctx.staticData, {});
		const gone = hookContext({ 'DELETE /v1/webhooks/wh_1': problemError(404, 'not_found', 'gone') }, { webhookId: 'wh_1' });
		assert.equal(await hooks.delete.call(gone), true);
	});
});

describe('webhook()', () => {
	function delivery(body, { secret = SECRET, events, timestamp = Math.floor(Date.now() / 1000) } = {}) {
		const raw = Buffer.from(JSON.stringify(body));
		const headers = { 'webhook-id': 'evt_9', 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, 'evt_9', timestamp, raw) };
		const ctx = hookContext({}, { webhookId: 'wh_1', webhookSecret: SECRET }, events);
		const response = {};
		ctx.getRequestObject = () => ({ headers, rawBody: raw, body });
		ctx.getBodyData = () => body;
		ctx.getResponseObject = () => ({
			status(code) { response.status = code; return this; },
			json(payload) { response.json = payload; return this; },
		});
		return { ctx, response };
	}

	const event = { type: 'video.completed', timestamp: '2030-01-01T00:00:00Z', data: { id: 'vid_1', status: 'succeeded' } };

	test('a signed event starts the workflow with the event and its webhook id', async () => {
		const { ctx } = delivery(event);
		const result = await trigger.webhook.call(ctx);
		assert.deepEqual(result.workflowData, [[{ json: { ...event, webhook_id: 'evt_9' } }]]);
	});

	test('a bad signature is refused with 401 and starts nothing', async () => {
		const { ctx, response } = delivery(event, { secret: 'whsec_' + Buffer.from('nope').toString('base64') });
		const result = await trigger.webhook.call(ctx);
		assert.deepEqual(result, { noWebhookResponse: true });
		assert.equal(response.status, 401);
	});

	test('an event not selected is acknowledged without starting the workflow', async () => {
		const { ctx } = delivery({ ...event, type: 'video.progress' });
		const result = await trigger.webhook.call(ctx);
		assert.equal(result.workflowData, undefined);
		assert.deepEqual(result.webhookResponse, { received: true, ignored: 'video.progress' });
	});
});
