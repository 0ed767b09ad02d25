'use strict';
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { NodeApiError, NodeOperationError } = require('n8n-workflow');

const { NemoVideo, buildCreateBody, buildCreateHeaders, buildEditBody } = require('../dist/nodes/NemoVideo/NemoVideo.node.js');
const { buildRequestOptions, toNodeApiError, splitList, preferWait } = require('../dist/nodes/NemoVideo/GenericFunctions.js');
const { multipartBody } = require('../dist/nodes/NemoVideo/upload.js');
const { buildMessageBody } = require('../dist/nodes/NemoVideo/session.js');
const { NemoVideoApi } = require('../dist/credentials/NemoVideoApi.credentials.js');
const { baseContext, router, problemError, video, mp4Stream } = require('./helpers.js');

const node = new NemoVideo();
const run = (ctx) => node.execute.call(ctx);

describe('request building', () => {
	test('create body: snake_case fields, lists split, metadata, webhook filter only with a URL', () => {
		const body = buildCreateBody(
			'waves at sunset',
			{
				durationSeconds: 15,
				aspectRatio: '9:16',
				resolution: '720p',
				language: 'en',
				mediaUrls: 'https://a.test/1.jpg, https://a.test/2.jpg\nhttps://a.test/3.mp4',
				uploadIds: 'upl_1,upl_2',
				webhookUrl: 'https://hooks.test/x',
				webhookEventsFilter: ['completed', 'progress'],
			},
			{ order: 42 },
		);
		assert.deepEqual(body, {
			prompt: 'waves at sunset',
			duration_seconds: 15,
			aspect_ratio: '9:16',
			resolution: '720p',
			language: 'en',
			media_urls: ['https://a.test/1.jpg', 'https://a.test/2.jpg', 'https://a.test/3.mp4'],
			upload_ids: ['upl_1', 'upl_2'],
			webhook_url: 'https://hooks.test/x',
			webhook_events_filter: ['completed', 'progress'],
			metadata: { order: 42 },
		});
		assert.deepEqual(buildCreateBody('p', { webhookEventsFilter: ['completed'] }, {}), { prompt: 'p' });
	});

	test('edit body', () => {
		assert.deepEqual(buildEditBody('add music', { webhookUrl: 'https://h.test/' }, {}), {
			instruction: 'add music',
			webhook_url: 'https://h.test/',
		});
	});

	test('headers: Prefer wait capped at 60, idempotency key, Cancel-After', () => {
		assert.deepEqual(buildCreateHeaders({ idempotencyKey: 'k1', cancelAfter: 600 }, 900), {
			Prefer: 'wait=60',
			'Idempotency-Key': 'k1',
			'Cancel-After': '600',
		});
		assert.deepEqual(buildCreateHeaders({}, 0), {});
		assert.deepEqual(preferWait(12.7), { Prefer: 'wait=12' });
	});

	test('request options: base URL joined, JSON, query, stream downloads', () => {
		const json = buildRequestOptions('http://gw.test:8080//', { method: 'GET', path: '/v1/videos', qs: { limit: 5 } });
		assert.equal(json.url, 'http://gw.test:8080/v1/videos');
		assert.equal(json.json, true);
		assert.deepEqual(json.qs, { limit: 5 });
		assert.equal(json.headers.Accept, 'application/json');
		const stream = buildRequestOptions('http://gw.test', { method: 'GET', path: '/v1/videos/v/content', stream: true });
		assert.equal(stream.encoding, 'stream');
		assert.equal(stream.json, false);
		const raw = buildRequestOptions('http://gw.test', { method: 'POST', path: '/v1/uploads', body: Buffer.from('x') });
		assert.equal(raw.json, false);
		assert.ok(Buffer.isBuffer(raw.body));
	});

	test('lists split on commas and new lines', () => {
		assert.deepEqual(splitList(' a, b\n\nc '), ['a', 'b', 'c']);
		assert.deepEqual(splitList(undefined), []);
	});

	test('multipart body: one "file" part with name and type', () => {
		const { body, contentType } = multipartBody(Buffer.from('PNGDATA'), 'pic "1".png', 'image/png', 'BOUND');
		assert.equal(contentType, 'multipart/form-data; boundary=BOUND');
		assert.equal(
			body.toString(),
			'--BOUND\r\nContent-Disposition: form-data; name="file"; filename="pic _1_.png"\r\n' +
				'Content-Type: image/png\r\n\r\nPNGDATA\r\n--BOUND--\r\n',
		);
	});

	test('message body', () => {
		assert.deepEqual(buildMessageBody('hi', { mediaUrls: 'https://m.test/a.jpg', uploadIds: 'upl_1' }), {
			text: 'hi',
			media_urls: ['https://m.test/a.jpg'],
			upload_ids: ['upl_1'],
		});
	});

	test('credentials: bearer header and GET /v1/me as the test', () => {
		const credentials = new NemoVideoApi();
		assert.equal(credentials.authenticate.properties.headers.Authorization, '=Bearer {{$credentials.apiKey}}');
		assert.equal(credentials.test.request.url, '/v1/me');
		assert.deepEqual(credentials.properties.map((p) => p.name), ['baseUrl', 'apiKey']);
		assert.equal(credentials.properties[1].typeOptions.password, true);
	});
});

describe('errors', () => {
	test('problem+json becomes a NodeApiError with title, detail, code and status', () => {
		const error = toNodeApiError(
			{ name: 'n', type: 't', typeVersion: 1, position: [0, 0], parameters: {} },
			problemError(422, 'validation_error', 'The body failed validation.', {
				errors: [{ field: 'prompt', message: 'Missing data for required field.' }],
			}),
		);
		assert.ok(error instanceof NodeApiError);
		assert.equal(error.message, 'validation error');
		assert.equal(error.httpCode, '422');
		assert.match(error.description, /The body failed validation\. \(code: validation_error\)/);
		assert.match(error.description, /prompt: Missing data/);
	});

	test("n8n's own wrapped NodeApiError (body in context.data) is re-made with the problem", () => {
		const node = { name: 'n', type: 't', typeVersion: 1, position: [0, 0], parameters: {} };
		const wrapped = new NodeApiError(node, { message: 'Request failed with status code 404' }, { httpCode: '404' });
		wrapped.context.data = { type: 'x', title: 'Not found', status: 404, detail: 'No video vid_x.', code: 'not_found' };
		const error = toNodeApiError(node, wrapped);
		assert.notEqual(error, wrapped);
		assert.equal(error.message, 'Not found');
		assert.equal(error.description, 'No video vid_x. (code: not_found)');
		assert.equal(error.httpCode, '404');
		const plain = new NodeApiError(node, { message: 'socket hang up' });
		assert.equal(toNodeApiError(node, plain), plain);
	});

	test('a failed call in the node surfaces the gateway detail', async () => {
		const ctx = baseContext({
			params: { resource: 'video', operation: 'get', videoId: 'vid_x' },
			answer: router({ 'GET /v1/videos/vid_x': problemError(404, 'not_found', 'No video vid_x for this key.') }),
		});
		await assert.rejects(run(ctx), (error) => {
			assert.ok(error instanceof NodeApiError);
			assert.equal(error.httpCode, '404');
			assert.match(error.description, /No video vid_x for this key/);
			return true;
		});
	});
});

describe('video operations', () => {
	test('generate and wait: Prefer wait, polling, MP4 as binary data', async () => {
		const ctx = baseContext({
			params: {
				resource: 'video',
				operation: 'generate',
				prompt: 'a cat',
				waitForCompletion: true,
				maxWaitSeconds: 900,
				download: true,
				binaryPropertyName: 'video',
				additionalFields: { idempotencyKey: 'run-1', metadata: '{"row": 7}' },
			},
			answer: router({
				'POST /v1/videos': video('generating'),
				'GET /v1/videos/vid_1': [video('rendering'), video('succeeded')],
				'GET /v1/videos/vid_1/content': () => mp4Stream(),
			}),
		});
		const [[item]] = await run(ctx);
		const [post, poll1, poll2, download] = ctx.requests;
		assert.equal(post.method, 'POST');
		assert.equal(post.url, 'http://gateway.test:8080/v1/videos');
		assert.deepEqual(post.body, { prompt: 'a cat', metadata: { row: 7 } });
		assert.equal(post.headers.Prefer, 'wait=60');
		assert.equal(post.headers['Idempotency-Key'], 'run-1');
		assert.ok(post.timeout >= 60000, 'the HTTP timeout covers the Prefer wait');
		assert.equal(poll1.url, 'http://gateway.test:8080/v1/videos/vid_1');
		assert.equal(poll2.url, poll1.url);
		assert.equal(download.encoding, 'stream');
		assert.equal(item.json.status, 'succeeded');
		assert.deepEqual(item.pairedItem, { item: 0 });
		assert.equal(item.binary.video.fileName, 'vid_1.mp4');
		assert.equal(item.binary.video.mimeType, 'video/mp4');
		assert.equal(Buffer.from(item.binary.video.data, 'base64').toString(), 'mp4!');
		assert.equal(item.binary.video.streamed, true, 'handed to n8n as a stream');
	});

	test('generate finished within Prefer wait: no polling', async () => {
		const ctx = baseContext({
			params: { resource: 'video', operation: 'generate', prompt: 'p', waitForCompletion: true, maxWaitSeconds: 30, download: false },
			answer: router({ 'POST /v1/videos': video('succeeded') }),
		});
		const [[item]] = await run(ctx);
		assert.equal(ctx.requests.length, 1);
		assert.equal(ctx.requests[0].headers.Prefer, 'wait=30');
		assert.equal(item.binary, undefined);
	});

	test('generate without waiting returns the queued video', async () => {
		const ctx = baseContext({
			params: { resource: 'video', operation: 'generate', prompt: 'p', waitForCompletion: false, additionalFields: { webhookUrl: 'https://h.test/r', webhookEventsFilter: ['completed'] } },
			answer: router({ 'POST /v1/videos': video('queued') }),
		});
		const [[item]] = await run(ctx);
		assert.equal(item.json.status, 'queued');
		assert.equal(ctx.requests[0].headers.Prefer, undefined);
		assert.equal(ctx.requests[0].body.webhook_url, 'https://h.test/r');
	});

	test('a failed video is an error naming its code; continue-on-fail keeps the video', async () => {
		const failed = video('failed', { error: { code: 'insufficient_credits', message: 'Out of credits.', retryable: false } });
		const params = { resource: 'video', operation: 'generate', prompt: 'p', waitForCompletion: true, maxWaitSeconds: 60 };
		const answer = router({ 'POST /v1/videos': failed });
		await assert.rejects(run(baseContext({ params, answer })), (error) => {
			assert.ok(error instanceof NodeOperationError);
			assert.match(error.message, /vid_1 failed \(insufficient_credits: Out of credits\.\)/);
			return true;
		});
		const [[item]] = await run(baseContext({ params: { ...params, __continueOnFail: true }, answer }));
		assert.match(item.json.error, /insufficient_credits/);
		assert.equal(item.json.video.status, 'failed');
	});

	test('the wait is bounded', async () => {
		const ctx = baseContext({
			params: { resource: 'video', operation: 'generate', prompt: 'p', waitForCompletion: true, maxWaitSeconds: 1 },
			answer: router({ 'POST /v1/videos': video('generating'), 'GET /v1/videos/vid_1': video('generating') }),
		});
		const started = Date.now();
		await assert.rejects(run(ctx), /still generating/);
		assert.ok(Date.now() - started < 3000);
	});

	test('edit posts the instruction to /edits', async () => {
		const ctx = baseContext({
			params: { resource: 'video', operation: 'edit', videoId: 'vid_1', instruction: 'add music', waitForCompletion: false },
			answer: router({ 'POST /v1/videos/vid_1/edits': video('queued', { id: 'vid_2', parent_id: 'vid_1' }) }),
		});
		const [[item]] = await run(ctx);
		assert.deepEqual(ctx.requests[0].body, { instruction: 'add music' });
		assert.equal(item.json.parent_id, 'vid_1');
	});

	test('get, cancel, download', async () => {
		const answer = router({
			'GET /v1/videos/vid_1': video('succeeded'),
			'POST /v1/videos/vid_1/cancel': problemError(409, 'video_finished', 'Already finished.'),
			'GET /v1/videos/vid_1/content': () => mp4Stream(),
		});
		const [[got]] = await run(baseContext({ params: { resource: 'video', operation: 'get', videoId: ' vid_1 ' }, answer }));
		assert.equal(got.json.id, 'vid_1');
		await assert.rejects(run(baseContext({ params: { resource: 'video', operation: 'cancel', videoId: 'vid_1' }, answer })), /video finished/);
		const ctx = baseContext({ params: { resource: 'video', operation: 'download', videoId: 'vid_1', binaryPropertyName: 'data' }, answer });
		const [[downloaded]] = await run(ctx);
		assert.equal(downloaded.binary.data.fileName, 'vid_1.mp4');
	});

	test('download of an unfinished video says so', async () => {
		const ctx = baseContext({
			params: { resource: 'video', operation: 'download', videoId: 'vid_1', binaryPropertyName: 'data' },
			answer: router({ 'GET /v1/videos/vid_1': video('rendering') }),
		});
		await assert.rejects(run(ctx), /has no MP4: it is rendering/);
	});

	test('get many follows next_cursor and stops at the limit', async () => {
		const page = (ids, next) => ({ object: 'list', data: ids.map((id) => video('succeeded', { id })), next_cursor: next, has_more: Boolean(next) });
		const ctx = baseContext({
			params: { resource: 'video', operation: 'getAll', returnAll: false, limit: 3, filters: { status: 'succeeded' } },
			answer: router({ 'GET /v1/videos': [page(['a', 'b'], 'c1'), page(['c', 'd'], 'c2')] }),
		});
		const [items] = await run(ctx);
		assert.deepEqual(items.map((i) => i.json.id), ['a', 'b', 'c']);
		assert.deepEqual(ctx.requests.map((r) => r.qs), [
			{ limit: 3, status: 'succeeded' },
			{ limit: 1, status: 'succeeded', cursor: 'c1' },
		]);
		const all = baseContext({
			params: { resource: 'video', operation: 'getAll', returnAll: true },
			answer: router({ 'GET /v1/videos': [page(['a'], 'c1'), page(['b'], null)] }),
		});
		const [allItems] = await run(all);
		assert.deepEqual(allItems.map((i) => i.json.id), ['a', 'b']);
		assert.deepEqual(allItems.map((i) => i.pairedItem), [{ item: 0 }, { item: 0 }]);
	});
});

describe('session, upload, credits', () => {
	test('send message: 202 then the message is polled until done', async () => {
		const ctx = baseContext({
			params: { resource: 'session', operation: 'sendMessage', sessionId: 'ses_1', text: 'make it brighter', maxWaitSeconds: 30 },
			answer: router({
				'POST /v1/sessions/ses_1/messages': { id: 'msg_1', status: 'running' },
				'GET /v1/sessions/ses_1/messages/msg_1': [
					{ id: 'msg_1', status: 'running' },
					{ id: 'msg_1', status: 'succeeded', reply: 'Done.' },
				],
			}),
		});
		const [[item]] = await run(ctx);
		assert.equal(ctx.requests[0].headers.Prefer, 'wait=30');
		assert.deepEqual(ctx.requests[0].body, { text: 'make it brighter' });
		assert.equal(ctx.requests.length, 3);
		assert.equal(item.json.reply, 'Done.');
	});

	test('a failed message is an error with its code', async () => {
		const ctx = baseContext({
			params: { resource: 'session', operation: 'sendMessage', sessionId: 'ses_1', text: 'hi', maxWaitSeconds: 30 },
			answer: router({
				'POST /v1/sessions/ses_1/messages': { id: 'msg_1', status: 'failed', error: { code: 'session_lost', message: 'gone' } },
			}),
		});
		await assert.rejects(run(ctx), /msg_1 failed \(session_lost: gone\)/);
	});

	test('session create and get', async () => {
		const answer = router({
			'POST /v1/sessions': (o) => ({ id: 'ses_9', object: 'session', body: o.body }),
			'GET /v1/sessions/ses_9': { id: 'ses_9', status: 'idle' },
		});
		const [[created]] = await run(baseContext({ params: { resource: 'session', operation: 'create', language: 'fr' }, answer }));
		assert.deepEqual(created.json.body, { language: 'fr' });
		const [[plain]] = await run(baseContext({ params: { resource: 'session', operation: 'create' }, answer }));
		assert.deepEqual(plain.json.body, {});
		const [[got]] = await run(baseContext({ params: { resource: 'session', operation: 'get', sessionId: 'ses_9' }, answer }));
		assert.equal(got.json.status, 'idle');
	});

	test('upload a binary file as multipart, or a URL as JSON', async () => {
		const answer = router({ 'POST /v1/uploads': (options) => ({ id: 'upl_1', echo: options.headers['Content-Type'] ?? 'json' }) });
		const ctx = baseContext({ params: { resource: 'upload', operation: 'create', source: 'binary', binaryPropertyName: 'data' }, answer });
		ctx.inputBinary = { data: { data: Buffer.from('JPEG').toString('base64'), fileName: 'a.jpg', mimeType: 'image/jpeg' } };
		const [[item]] = await run(ctx);
		assert.match(item.json.echo, /^multipart\/form-data; boundary=/);
		assert.match(ctx.requests[0].body.toString(), /filename="a.jpg"\r\nContent-Type: image\/jpeg\r\n\r\nJPEG\r\n/);
		const byUrl = baseContext({ params: { resource: 'upload', operation: 'create', source: 'url', url: ' https://m.test/a.jpg ' }, answer });
		await run(byUrl);
		assert.deepEqual(byUrl.requests[0].body, { url: 'https://m.test/a.jpg' });
	});

	test('credits', async () => {
		const ctx = baseContext({
			params: { resource: 'credit', operation: 'get' },
			answer: router({ 'GET /v1/credits': { available: 90, frozen: 10, total: 100 } }),
		});
		const [[item]] = await run(ctx);
		assert.deepEqual(item.json, { available: 90, frozen: 10, total: 100 });
	});
});
