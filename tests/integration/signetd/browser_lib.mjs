// What the people browser tests (people_e2e.mjs, people_mfa_e2e.mjs) share:
// the checks and their count, the relying party's redirect URIs, headless
// Chromium at a phone's size with a CDP virtual authenticator, the page
// helpers and an authorization request of openid-client.
import http from 'node:http';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import * as client from 'openid-client';

// ---- checks ---------------------------------------------------------------------
// ok() prints "OK <check> <detail>" and counts; a failed assert throws
// CheckError, which the test's last catch prints as "FAIL: ...".
export class CheckError extends Error {}
export const fail = (msg) => { throw new CheckError(msg); };
export const assert = (cond, msg) => { if (!cond) fail(msg); };
let count = 0;
export const ok = (name, detail = '') => {
  count++;
  console.log(`OK ${name} ${detail}`.trimEnd());
};
export const checks = () => count;

// A watchdog: a run takes seconds; never hang CTest.
export function watchdog(seconds) {
  setTimeout(() => {
    console.error(`FAIL: watchdog: the browser test did not finish within ${seconds} s`);
    process.exit(1);
  }, seconds * 1000).unref();
}

// ---- the relying party's redirect URIs --------------------------------------------
// rp ("http://localhost:PORT") on 127.0.0.1: every request gets a small page
// and its URL goes to hits.
export async function startRp(rp, hits) {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, rp);
    hits.push(u);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`<!doctype html><title>RP ${u.pathname}</title><p>relying party: ${u.pathname}</p>`);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(new URL(rp).port), '127.0.0.1', resolve);
  });
  return server;
}

// ---- the browser ------------------------------------------------------------------
// Chromium (CHROMIUM or /usr/bin/chromium), one page at a phone's size
// (twice the pixels when screenshots are taken) and a CTAP2 platform
// authenticator with resident keys and user verification.
export async function launch(shotDir, timeout) {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, // the "new" headless mode (the only one of puppeteer 24)
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
           '--disable-background-networking', '--disable-component-update'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: shotDir ? 2 : 1 });
  page.setDefaultTimeout(timeout);
  page.setDefaultNavigationTimeout(timeout);
  const cdp = await page.createCDPSession();
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { browser, page, cdp, authenticatorId };
}

// The sign-in page starts a conditional (autofill) passkey request as it
// loads, and the virtual authenticator answers it at once: a test that
// clicks its way through runs this in every new document
// (page.evaluateOnNewDocument) so that conditional mediation is unavailable.
export const noConditional = () => {
  if (window.PublicKeyCredential)
    window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
};

// ---- the page -----------------------------------------------------------------------
// Helpers on page for signetd's tenant at origin + tpath. more() adds to
// where()'s description (e.g. console errors).
export function pageHelpers(page, { origin, tpath, shotDir, timeout, more = () => '' }) {
  const bodyText = async () => {
    try {
      return (await page.evaluate(() => document.body ? document.body.innerText : ''))
        .replace(/\s+/g, ' ').slice(0, 400);
    } catch (e) {
      return `(no text: ${e.message})`;
    }
  };
  const where = async () => `the browser is at ${page.url()}: "${await bodyText()}"${more()}`;
  const isPath = (p) => (u) => u.origin === origin && u.pathname === `${tpath}${p}`;
  // click selector, then wait until the top-level URL satisfies pred (the
  // page's script posts, then sets location to the answer's "location").
  async function clickAndWait(selector, pred, what) {
    try {
      await page.waitForSelector(selector, { visible: true, timeout: 5000 });
    } catch {
      fail(`no visible ${selector} to click (${what}); ${await where()}`);
    }
    const before = page.url();
    const nav = page.waitForNavigation({ waitUntil: 'load', timeout }).catch((e) => e);
    await page.click(selector);
    const r = await nav;
    if (r instanceof Error) fail(`after clicking ${selector} (${what}), no navigation from ${before}: ${r.message}; ${await where()}`);
    const u = new URL(page.url());
    if (!pred(u)) fail(`after clicking ${selector}, expected ${what}; ${await where()}`);
    return u;
  }
  async function shot(name) {
    if (!shotDir) return;
    await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage: true });
    ok(`screenshot.${name}`, path.join(shotDir, `${name}.png`));
  }
  return { bodyText, where, isPath, clickAndWait, shot };
}

// ---- the relying party (openid-client) --------------------------------------------
// A fresh authorization request (PKCE S256, state, nonce) to cbUri: what
// the token exchange needs.
export async function authRequest(config, cbUri, scope, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cbUri, scope, state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256', ...extra,
  });
  return { url, verifier, state, nonce, maxAge: extra.max_age };
}
