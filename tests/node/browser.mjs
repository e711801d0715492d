// Headless Chromium opening PAGE, whose script reads a read route with the browser's own
// EventSource and logs `open` and `event <json>` to the console; this prints those lines until
// COUNT events came. The browser reconnects by itself, sending Last-Event-ID.
//
// Usage: node browser.mjs PAGE COUNT     (env CHROMIUM: the browser, default /usr/bin/chromium)
import { chromium } from "playwright-core";

const [page_url, count] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let seen = 0;
const page = await browser.newPage();
const done = new Promise((resolve) => {
  page.on("console", (message) => {
    const text = message.text();
    if (!text.startsWith("open") && !text.startsWith("event ")) return;
    console.log(text);
    if (text.startsWith("event ") && ++seen >= Number(count)) resolve();
  });
});
await page.goto(page_url);
await done;
await browser.close();
