'use strict';
const App = require('../index');
const { createAppTester, authData } = require('./support/tester');

const appTester = createAppTester(App);

describe('authentication', () => {
  it('test calls GET /v1/me and returns the key', async () => {
    const me = await appTester(App.authentication.test, { authData: authData() });
    expect(me.object).toBe('me');
    expect(me.key.name).toBe('zap');
    expect(me.credits.available).toBeGreaterThan(0);
  });

  it('labels the connection with the key name and the gateway host', async () => {
    const me = await appTester(App.authentication.test, { authData: authData() });
    const label = await appTester(App.authentication.connectionLabel, { authData: authData(), inputData: me });
    expect(label).toBe(`zap @ ${new URL(process.env.NGW_TEST_BASE_URL).host}`);
  });

  it('a wrong key asks the user to reconnect, with the gateway\'s words', async () => {
    const bundle = { authData: { ...authData(), apiKey: 'ngw_not_a_real_key' } };
    const error = await appTester(App.authentication.test, bundle).catch((e) => e);
    expect(error.name).toBe('ExpiredAuthError');
    expect(error.message).toMatch(/The API key is not valid/);
    expect(error.message).toMatch(/Reconnect/);
    expect(error.message).not.toMatch(/ngw_not_a_real_key/);
  });

  it('sends the key only to the gateway, never to other hosts', async () => {
    const seen = [];
    const http = require('http');
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization || null);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const other = `http://127.0.0.1:${server.address().port}/x`;
    try {
      await appTester(async (z) => (await z.request({ url: other })).data, { authData: authData() });
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(seen).toEqual([null]);
  });
});
