// Copy the declared front-end libraries from node_modules into static/vendor/ (never
// committed; `npm ci --prefix callcenter/web && npm run --prefix callcenter/web build`).
import { copyFileSync, mkdirSync, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(here, "static", "vendor");
const files = [
  ["echarts/dist/echarts.min.js", "echarts.min.js"],
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
];
mkdirSync(out, { recursive: true });
const versions = {};
for (const [src, dst] of files) {
  const from = join(here, "node_modules", src);
  if (!existsSync(from)) {
    console.error(`missing ${from}: run npm ci --prefix callcenter/web first`);
    process.exit(1);
  }
  copyFileSync(from, join(out, dst));
  const pkg = src.split("/")[0];
  versions[pkg] = JSON.parse(readFileSync(join(here, "node_modules", pkg, "package.json"))).version;
}
console.log(`vendored into ${out}: ${Object.entries(versions).map(([k, v]) => `${k}@${v}`).join(", ")}`);
