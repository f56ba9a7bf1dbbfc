#!/usr/bin/env node
// Drive Microsoft 365 Agents Playground's web UI like a person: read the bot's
// cards, press their buttons, fill their inputs and type messages.
//
//   node drive-playground.cjs <job.json>
//
// job.json: {"base": "http://127.0.0.1:<port>", "chromium": "/usr/bin/chromium",
//            "artifacts": "/abs/dir", "timeoutMs": 20000, "steps": [Step, ...]}
// Step: {"name": "...",
//        "fill": {"placeholder": "...", "value": "..."},  // an input on the newest card
//        "press": "<button title>",                         // on the newest card (or its ... menu)
//        "type": "<text>",                                  // into the compose box, then Send
//        "expectCard": "<text>"}                            // a NEW card must show this text
// Writes <artifacts>/<NN>-<name>.png (the window) and <NN>-<name>-card.png (the
// newest card, whole) after each step and prints one JSON line:
// {"steps": [{"name", "cardText", "monospace": [...], "screenshot"}]}; on failure it
// saves <artifacts>/failure.png and failure.txt and exits 1 with the reason.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const VIEWPORT = { width: 1280, height: 1400 };
// One top-level card per bot message; ShowCard bodies are nested deeper.
const CARDS = ".ac-preview-panel > .ac-adaptiveCard";

function cardsAfter(page, before) {
  return page.locator(CARDS).evaluateAll(
    (nodes, from) => nodes.slice(from).map((n) => n.innerText), before);
}

async function newestCard(page) {
  const cards = page.locator(CARDS);
  const count = await cards.count();
  if (count === 0) throw new Error("there is no card to act on");
  return cards.nth(count - 1);
}

async function press(page, title) {
  const card = await newestCard(page);
  const button = card.getByRole("button", { name: title, exact: true });
  if (await button.count()) {
    await button.first().click();
    return;
  }
  // Secondary actions live in the card's overflow menu ("...").
  const more = card.getByRole("button", { name: /^(\.\.\.|…|More options)$/ });
  if (!(await more.count())) throw new Error(`the newest card has no button "${title}"`);
  await more.last().click();
  const item = page.getByRole("menuitem", { name: title, exact: true })
    .or(page.getByRole("button", { name: title, exact: true }).last());
  await item.first().click();
}

async function type(page, text) {
  const box = page.locator('[role="textbox"][contenteditable="true"]');
  await box.click();
  await box.fill(text);
  await page.getByRole("button", { name: "Send Message" }).click();
}

// Texts on the newest card drawn in a monospace font: the PowerShell (CodeBlock or its fallback).
function monospaceTexts(card) {
  return card.evaluate((root) => Array.from(root.querySelectorAll("*"))
    .filter((el) => el.children.length === 0 || el.tagName === "P")
    .filter((el) => /mono|consolas|courier|menlo/i.test(getComputedStyle(el).fontFamily))
    .filter((el) => el.getClientRects().length > 0)
    .map((el) => el.innerText.trim())
    .filter(Boolean));
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const timeout = job.timeoutMs || 20000;
  fs.mkdirSync(job.artifacts, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "msa-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: job.chromium || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
  });
  const results = [];
  let page;
  try {
    // The Playground's UI asks a CDN for fonts and animations: offline, only its own origin.
    await context.route("**/*", (route) => (
      route.request().url().startsWith(job.base) ? route.continue() : route.abort()));
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(timeout);
    await page.goto(`${job.base}/`);
    for (const [index, step] of job.steps.entries()) {
      // A step that does nothing (the welcome after install) waits for a card that may
      // already be on screen when the page settles: count from the start then, or a
      // fast bot's welcome would be taken as "old" and never seen as new.
      const acts = Boolean(step.fill || step.press || step.type);
      const before = acts ? await page.locator(CARDS).count() : 0;
      if (step.fill) {
        const card = await newestCard(page);
        await card.getByPlaceholder(step.fill.placeholder).fill(step.fill.value);
      }
      if (step.press) await press(page, step.press);
      if (step.type) await type(page, step.type);
      if (step.expectCard) {
        try {
          await page.waitForFunction(({ selector, from, text }) => (
            Array.from(document.querySelectorAll(selector)).slice(from)
              .some((n) => n.innerText.includes(text))
          ), { selector: CARDS, from: before, text: step.expectCard }, { timeout });
        } catch (err) {
          const seen = (await cardsAfter(page, before)).map((t) => t.slice(0, 300));
          throw new Error(`step "${step.name}": no new card showing "${step.expectCard}" within `
            + `${timeout} ms; new cards: ${JSON.stringify(seen)}`);
        }
      }
      const card = await newestCard(page);
      await card.scrollIntoViewIfNeeded();
      const shot = path.join(job.artifacts, `${String(index + 1).padStart(2, "0")}-${step.name}.png`);
      await page.screenshot({ path: shot });
      // The whole card too: long cards (the fix, the summary) run past the chat pane,
      // which scrolls inside the window, so the window grows to fit them for a moment.
      const box = await card.boundingBox();
      if (box && box.height + 300 > VIEWPORT.height) {
        await page.setViewportSize({ width: VIEWPORT.width, height: Math.ceil(box.height) + 400 });
        await card.scrollIntoViewIfNeeded();
      }
      await card.screenshot({ path: shot.replace(/\.png$/, "-card.png") });
      await page.setViewportSize(VIEWPORT);
      results.push({
        name: step.name,
        cardText: await card.innerText(),
        monospace: await monospaceTexts(card),
        screenshot: shot,
      });
    }
    process.stdout.write(JSON.stringify({ steps: results }) + "\n");
  } catch (err) {
    if (page) {
      await page.screenshot({ path: path.join(job.artifacts, "failure.png") }).catch(() => {});
      const text = await page.locator("body").innerText().catch(() => "");
      fs.writeFileSync(path.join(job.artifacts, "failure.txt"), text);
    }
    throw err;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`drive-playground: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
