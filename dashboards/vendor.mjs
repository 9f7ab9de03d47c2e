// Copies the pinned chart library from node_modules/ into vendor/, where the pages load it.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = [
  ["node_modules/echarts/dist/echarts.esm.min.mjs", "vendor/echarts.esm.min.mjs"],
  ["node_modules/echarts/LICENSE", "vendor/LICENSE.echarts"],
];

mkdirSync(join(here, "vendor"), { recursive: true });
for (const [from, to] of files) {
  copyFileSync(join(here, from), join(here, to));
  console.log(`dashboards: ${from} -> ${to}`);
}
