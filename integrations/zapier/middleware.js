'use strict';
// HTTP middleware: the API key goes only to the configured gateway, and the
// gateway's problem+json errors become readable Zapier errors.
const { baseUrl } = require('./lib/api');

const sameOrigin = (url, base) => {
  try {
    return Boolean(base) && new URL(url).origin === new URL(base).origin;
  } catch (e) {
    return false;
  }
};

const addAuthHeader = (request, z, bundle) => {
  const base = baseUrl(bundle);
  request.headers = request.headers || {};
  if (bundle.authData && bundle.authData.apiKey && sameOrigin(request.url, base)) {
    request.headers.Authorization = `Bearer ${bundle.authData.apiKey}`;
  }
  if (!request.headers.Accept && !request.headers.accept) {
    request.headers.Accept = 'application/json, application/problem+json';
  }
  // 429 answers are turned into ThrottledError below, with the gateway's words.
  request.throwForThrottlingEarly = false;
  return request;
};

const parseProblem = (text) => {
  try {
    const body = JSON.parse(text);
    return body && typeof body === 'object' ? body : null;
  } catch (e) {
    return null;
  }
};

const describe = (problem, status) => {
  if (!problem) return `The gateway answered HTTP ${status}.`;
  const parts = [problem.title, problem.detail].filter(Boolean);
  let message = parts.length ? parts.join(': ') : `The gateway answered HTTP ${status}.`;
  if (Array.isArray(problem.errors) && problem.errors.length) {
    message += ` (${problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')})`;
  }
  if (problem.registration_url) message += ` Register or top up at ${problem.registration_url}`;
  return message;
};

// Throws the Zapier error for a gateway error answer (status >= 400).
const raiseProblem = async (z, response) => {
  const raw = response.request && response.request.raw;
  const text = raw ? await response.text() : response.content;
  const problem = parseProblem(text);
  const message = describe(problem, response.status);
  const code = (problem && problem.code) || `http_${response.status}`;
  if (response.status === 401) {
    // The key was revoked or mistyped: Zapier asks the user to reconnect.
    throw new z.errors.ExpiredAuthError(`${message} Reconnect the NemoVideo Gateway account with a valid API key.`);
  }
  if (response.status === 429) {
    const retryAfter = parseInt(response.headers.get('retry-after') || '', 10);
    throw new z.errors.ThrottledError(message, Number.isNaN(retryAfter) ? 60 : retryAfter);
  }
  throw new z.errors.Error(message, code, response.status);
};

const handleProblems = async (response, z) => {
  if (response.status < 400 || response.skipThrowForStatus) return response;
  return raiseProblem(z, response);
};

module.exports = { befores: [addAuthHeader], afters: [handleProblems], raiseProblem, describe };
