// Runs the OpenAPI check last: it compares the document with every status the other e2e
// specs observed (test/support/http.ts records them), so it must come after them.
import Sequencer from '@jest/test-sequencer';

const LAST = /openapi\.e2e-spec\.ts$/;
const Base = Sequencer.default ?? Sequencer;

export default class OpenApiLast extends Base {
  async sort(tests) {
    const sorted = await super.sort(tests);
    return [...sorted.filter((t) => !LAST.test(t.path)), ...sorted.filter((t) => LAST.test(t.path))];
  }
}
