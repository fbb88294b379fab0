import { test } from "uvu";
import * as assert from "uvu/assert";
import { main } from "@rtbackup/cli";

test("main is a function", () => {
  assert.type(main, "function");
});
test.run();
