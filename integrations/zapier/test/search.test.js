'use strict';
const App = require('../index');
const { createAppTester, authData, finishedVideo, parseDehydrated } = require('./support/tester');
const { unlabelledKeys } = require('./support/definition_checks');

const appTester = createAppTester(App);
const op = App.searches.find_video.operation;

describe('search: Find Video', () => {
  it('finds a video by id, with the MP4 as a file', async () => {
    const video = await finishedVideo({ metadata: { row: '3' } });
    const results = await appTester(op.perform, { authData: authData(), inputData: { id: video.id } });
    expect(results).toHaveLength(1);
    expect(results[0].id).toBe(video.id);
    expect(results[0].status).toBe('succeeded');
    expect(results[0].metadata).toEqual({ row: '3' });
    expect(parseDehydrated(results[0].file).method).toBe('hydrators.downloadVideo');
    expect(unlabelledKeys(op.outputFields, results[0])).toEqual([]);
  });

  it('answers an empty result for an unknown id', async () => {
    const results = await appTester(op.perform, { authData: authData(), inputData: { id: 'vid_doesnotexist' } });
    expect(results).toEqual([]);
  });
});
