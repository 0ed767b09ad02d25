// A stand-in for n8n's execute/hook/webhook contexts: records every request the
// nodes make and answers from a script, so the tests check request building
// and response mapping without an n8n or a gateway.
'use strict';
const { Readable } = require('node:stream');

const CREDENTIALS = { baseUrl: 'http://gateway.test:8080/', apiKey: 'ngw_test' };
const NODE = { id: '1', name: 'NemoVideo', type: 'CUSTOM.nemoVideo', typeVersion: 1, position: [0, 0], parameters: {} };

/** An error shaped like the one n8n's HTTP helper throws for a problem+json answer. */
function problemError(status, code, detail, extra = {}) {
	const data = { type: `https://nemo-gateway.dev/problems/${code}`, title: code.replace(/_/g, ' '), status, detail, code, ...extra };
	const error = new Error(`Request failed with status code ${status}`);
	error.response = { status, data, headers: { 'content-type': 'application/problem+json' } };
	return error;
}

/**
 * answer(options, requests) -> value | Promise | throws. `routes` maps
 * "METHOD /path" (without the base URL, query string ignored) to a value, an
 * array of values (one per call) or a function.
 */
function router(routes) {
	const calls = {};
	return (options) => {
		const path = options.url.replace(/^https?:\/\/[^/]+/, '');
		const key = `${options.method} ${path}`;
		if (!(key in routes)) throw new Error(`unexpected request ${key}`);
		let answer = routes[key];
		if (Array.isArray(answer)) {
			const n = calls[key] ?? 0;
			calls[key] = n + 1;
			answer = answer[Math.min(n, answer.length - 1)];
		}
		if (typeof answer === 'function') return answer(options);
		if (answer instanceof Error) throw answer;
		return structuredClone(answer);
	};
}

function baseContext({ params = {}, answer, staticData = {} }) {
	const requests = [];
	const ctx = {
		requests,
		staticData,
		getNodeParameter(name, _i, fallback) {
			if (typeof _i === 'object' && fallback === undefined) fallback = _i;
			return name in params ? params[name] : fallback;
		},
		async getCredentials(name) {
			if (name !== 'nemoVideoApi') throw new Error(`unknown credentials ${name}`);
			return { ...CREDENTIALS };
		},
		getNode: () => NODE,
		getWorkflow: () => ({ id: 'wf1', name: 'My workflow', active: true }),
		getWorkflowStaticData: () => staticData,
		continueOnFail: () => params.__continueOnFail === true,
		helpers: {
			async httpRequestWithAuthentication(credentialsType, options) {
				if (credentialsType !== 'nemoVideoApi') throw new Error('wrong credentials type');
				requests.push(options);
				return await answer(options, requests);
			},
			async prepareBinaryData(body, fileName, mimeType) {
				const chunks = [];
				if (Buffer.isBuffer(body)) chunks.push(body);
				else for await (const chunk of body) chunks.push(Buffer.from(chunk));
				const data = Buffer.concat(chunks);
				return { data: data.toString('base64'), fileName, mimeType, fileSize: String(data.length), streamed: !Buffer.isBuffer(body) };
			},
			returnJsonArray: (items) => items.map((json) => ({ json })),
			assertBinaryData(_i, property) {
				const binary = ctx.inputBinary?.[property];
				if (!binary) throw new Error(`no binary field ${property}`);
				return binary;
			},
			async getBinaryDataBuffer(_i, property) {
				return Buffer.from(ctx.inputBinary[property].data, 'base64');
			},
		},
		getInputData: () => [{ json: {} }],
	};
	return ctx;
}

function video(status, extra = {}) {
	return {
		id: 'vid_1',
		object: 'video',
		status,
		progress: status === 'succeeded' ? 100 : 40,
		stage: status === 'succeeded' ? 'done' : 'generating',
		error: null,
		output: status === 'succeeded' ? { url: 'http://gateway.test/v1/videos/vid_1/content?sig', size_bytes: 4 } : null,
		session_id: 'ses_1',
		...extra,
	};
}

const mp4Stream = () => Readable.from([Buffer.from('mp4!')]);

module.exports = { baseContext, router, problemError, video, mp4Stream, CREDENTIALS };
