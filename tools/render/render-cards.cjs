#!/usr/bin/env node
// Render Adaptive Cards with Microsoft's JavaScript renderer (npm adaptivecards)
// in headless Chromium and screenshot each one: the picture a person would see.
//
//   node render-cards.cjs <job.json>
//
// job.json: {"cards": [{"name": "...", "card": {...}}], "outDir": "/abs/dir" | null,
//            "width": 800, "chromium": "/usr/bin/chromium"}
// With outDir null the cards are only parsed, validated and rendered (a check).
// Prints one JSON object: {"renderer": {...}, "cards": [{"name", "events",
// "error", "png", "width", "height"}]}; "events" are the renderer's parse and
// validation messages, which the Python side judges.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const HERE = __dirname;
const MODULES = path.join(HERE, "node_modules");

// The flags that keep Debian's Chromium quiet and offline in a container.
const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

function readModuleFile(...parts) {
  return fs.readFileSync(path.join(MODULES, ...parts), "utf8");
}

// Everything is inlined into one page, so the browser never needs the network.
function pageHtml(hostConfig) {
  const scriptTag = (code) => `<script>${code.replace(/<\/script/gi, "<\\/script")}</script>`;
  return [
    "<!doctype html><html><head><meta charset='utf-8'>",
    `<style>${readModuleFile("adaptivecards", "dist", "adaptivecards.css")}</style>`,
    `<style>${fs.readFileSync(path.join(HERE, "teams.css"), "utf8")}</style>`,
    scriptTag(readModuleFile("markdown-it", "dist", "browser", "markdown-it.umd.min.js")),
    scriptTag(readModuleFile("adaptivecards", "dist", "adaptivecards.min.js")),
    scriptTag(`window.HOST_CONFIG = ${JSON.stringify(hostConfig)};`),
    scriptTag(fs.readFileSync(path.join(HERE, "page.js"), "utf8")),
    "</head><body><div id='frame'><div id='bubble'></div></div></body></html>",
  ].join("\n");
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const hostConfig = JSON.parse(fs.readFileSync(path.join(HERE, "teams-host-config.json"), "utf8"));
  delete hostConfig.$comment;
  const width = job.width || 800;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "msa-render-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: job.chromium || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width, height: 600 },
    deviceScaleFactor: 1,
  });
  const results = [];
  try {
    // The page is set from a string; any request it would still make (a link,
    // an image URL in a card) is refused so the pictures never depend on the network.
    await context.route("**/*", (route) => route.abort());
    const page = context.pages()[0] || (await context.newPage());
    const pageErrors = [];
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    await page.setContent(pageHtml(hostConfig), { waitUntil: "load" });
    await page.evaluate((w) => { document.getElementById("frame").style.width = `${w}px`; }, width);
    // A check needs no pictures: one round trip renders every card in turn.
    const checked = job.outDir ? null
      : await page.evaluate((cards) => cards.map((c) => window.renderCard(c.card, false)), job.cards);
    for (const [index, { name, card }] of job.cards.entries()) {
      const rendered = checked ? checked[index] : await page.evaluate((c) => window.renderCard(c, true), card);
      const entry = { name, events: rendered.events, error: rendered.error, png: null,
                      width: null, height: null };
      if (pageErrors.length) {
        entry.error = [entry.error, ...pageErrors.splice(0)].filter(Boolean).join("; ");
      }
      if (job.outDir && !entry.error) {
        await page.evaluate(() => document.fonts.ready);
        const frame = page.locator("#frame");
        const box = await frame.boundingBox();
        entry.png = path.join(job.outDir, `${name}.png`);
        await frame.screenshot({ path: entry.png, animations: "disabled" });
        entry.width = Math.round(box.width);
        entry.height = Math.round(box.height);
      }
      results.push(entry);
    }
    const renderer = {
      adaptivecards: JSON.parse(readModuleFile("adaptivecards", "package.json")).version,
      chromium: context.browser() ? context.browser().version() : null,
    };
    process.stdout.write(JSON.stringify({ renderer, cards: results }) + "\n");
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`render-cards: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
