// A password and an approval on the person's own device, in a real browser
// (issue 14, docs/people.md, docs/authenticator.md), driven by
// test_people_mfa_browser.sh: headless Chromium (puppeteer-core, the system
// /usr/bin/chromium) with a CDP virtual authenticator enrols a passkey,
// sets a password and registers the real signet-authenticator with the code
// the account page shows. Then the person signs in for a public client
// (openid-client as the relying party) with the password: the page shows a
// two-digit number and the request's context; the device, fed the number
// read from the page, approves it; the code exchange gives tokens whose amr
// says pwd + mfa. A wrong number typed on the device denies and the page
// says so.
//
// usage: node people_mfa_e2e.mjs ISSUER RP_PORT USER_ID ENROLMENT_LINK AUTHENTICATOR DEVICE_DIR
//   env SIGNET_SCREENSHOTS=DIR: phone-sized screenshots (the number page,
//   the approver's prompt rendered as a terminal).
// Prints "OK <check> <detail>" per check and "PEOPLE_MFA_E2E_DONE <n>
// checks" last; exits 1 with "FAIL: ..." on the first failed check.
import { execFile } from 'node:child_process';
import dns from 'node:dns';
import fs from 'node:fs';
import path from 'node:path';
import * as client from 'openid-client';
import * as jose from 'jose';
import {
  CheckError, assert, authRequest as request, checks, fail, launch, noConditional, ok,
  pageHelpers, startRp, watchdog,
} from './browser_lib.mjs';

dns.setDefaultResultOrder('ipv4first');

const [issuer, rpPortArg, userId, enrolLink, authenticator, deviceDir] = process.argv.slice(2);
if (!deviceDir) {
  console.error('usage: node people_mfa_e2e.mjs ISSUER RP_PORT USER_ID ENROLMENT_LINK AUTHENTICATOR DEVICE_DIR');
  process.exit(2);
}
const rp = `http://localhost:${Number(rpPortArg)}`;
const cbUri = `${rp}/cb`;
const issUrl = new URL(issuer);
const origin = issUrl.origin;
const tpath = issUrl.pathname.replace(/\/$/, '');
const shotDir = process.env.SIGNET_SCREENSHOTS && fs.existsSync(process.env.SIGNET_SCREENSHOTS)
  ? process.env.SIGNET_SCREENSHOTS : '';
const PASSWORD = 'correct horse battery staple 7';
const TIMEOUT = 15000;

watchdog(150);

// signet-authenticator ARGS... [stdin]: {code, out, err}.
function device(args, input, dir = deviceDir) {
  return new Promise((resolve) => {
    const child = execFile(authenticator, ['--dir', dir, ...args], { timeout: 20000 },
      (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out, err }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

const rpHits = [];
const rpServer = await startRp(rp, rpHits);

const { browser, page } = await launch(shotDir, TIMEOUT);
// The trusted proxy's coarse location ([server] location_header).
await page.setExtraHTTPHeaders({ 'X-Signet-Test-Location': 'Zurich, CH' });
// No conditional (autofill) passkey request: this test signs in with the
// password.
await page.evaluateOnNewDocument(noConditional);
const cspViolations = [];
page.on('console', (msg) => {
  if (/Content[- ]Security[- ]Policy/i.test(msg.text())) cspViolations.push(msg.text());
});

const { bodyText, where, isPath, clickAndWait, shot } = pageHelpers(page, {
  origin, tpath, shotDir, timeout: TIMEOUT,
});

const config = await client.discovery(issUrl, 'webapp', undefined, client.None(),
  { execute: [client.allowInsecureRequests] });
const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
const authRequest = (extra = {}) => request(config, cbUri, 'openid', extra);

// The sign-in page of a fresh request: the password, then "Approve on my
// device"; returns the number and the context the page shows.
async function passwordThenApproval(label) {
  const req = await authRequest({ prompt: 'login' });
  await page.goto(String(req.url), { waitUntil: 'load' });
  assert(isPath('/signin')(new URL(page.url())), `${label}: not on the sign-in page; ${await where()}`);
  await page.waitForSelector('#username', { visible: true });
  await page.type('#username', 'alice');
  await page.click('details.password > summary');
  await page.waitForSelector('#password', { visible: true });
  await page.type('#password', PASSWORD);
  await page.click('#pwsignin');
  await page.waitForSelector('#second', { visible: true })
    .catch(async () => fail(`${label}: no second step after a right password; ${await where()}`));
  assert(new URL(page.url()).pathname === `${tpath}/signin`, `${label}: a password alone left the sign-in page`);
  await page.click('#second-approval');
  await page.waitForFunction(() => /^\d\d$/.test(document.getElementById('approval-number')?.textContent || ''))
    .catch(async () => fail(`${label}: no two-digit number on the page; ${await where()}`));
  const shown = await page.evaluate(() => ({
    number: document.getElementById('approval-number').textContent,
    client: document.getElementById('approval-client').textContent,
    address: document.getElementById('approval-address').textContent,
    location: document.getElementById('approval-location').textContent,
    time: document.getElementById('approval-time').textContent,
  }));
  return { req, shown };
}

// The pending sign-ins, as the device lists them (JSON).
async function pending() {
  const r = await device(['pending', '--json']);
  assert(r.code === 0, `signet-authenticator pending: exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out).approvals;
}

try {
  // ---- 1. a passkey, a password and a device -------------------------------------
  await page.goto(enrolLink, { waitUntil: 'load' });
  await clickAndWait('#create', isPath('/account'), 'the account page after creating a passkey');
  ok('enrol.passkey');
  await page.waitForSelector('#newpw', { visible: true });
  await page.type('#newpw', PASSWORD);
  await clickAndWait('#setpw', isPath('/account'), 'the account page after setting a password');
  assert(await page.$('#removepw') !== null, `no password on the account page after setting one; ${await where()}`);
  ok('account.password_set');
  await page.click('#device-code');
  await page.waitForSelector('#device-enrol', { visible: true });
  const code = await page.$eval('#device-code-value', (e) => e.textContent);
  const cmd = await page.$eval('#device-command', (e) => e.textContent);
  assert(/^[A-Za-z0-9-]{4,64}$/.test(code) && cmd.includes(code) && cmd.includes(issuer),
    `the account page's device code: "${code}", command "${cmd}"`);
  const en = await device(['enrol', '--issuer', issuer, '--code', code, '--name', 'phone']);
  assert(en.code === 0 && /enrolled as alice's device "phone"/.test(en.out),
    `signet-authenticator enrol: exit ${en.code}: ${en.out} ${en.err}`);
  ok('device.enrolled', en.out.split('\n')[0]);
  // The same code from another device (a fresh key): refused by the server.
  const again = await device(['enrol', '--issuer', issuer, '--code', code, '--name', 'again'],
    undefined, `${deviceDir}-other`);
  assert(again.code === 1, `the device code worked twice: exit ${again.code}: ${again.out} ${again.err}`);
  ok('device.code_single_use');
  const key = fs.statSync(path.join(deviceDir, 'device.key'));
  assert((key.mode & 0o777) === 0o600, `device.key mode ${(key.mode & 0o777).toString(8)}`);
  ok('device.key_0600');
  await page.reload({ waitUntil: 'load' });
  await clickAndWait('#logout', isPath('/signin'), 'the sign-in page after signing out');

  // ---- 2. password + approval with the number read from the page -------------------
  {
    const { req, shown } = await passwordThenApproval('approve');
    assert(shown.client === 'webapp', `the page names the application "${shown.client}", wanted webapp`);
    assert(shown.address === '127.0.0.1', `the page shows the source "${shown.address}"`);
    assert(shown.location === 'Zurich, CH', `the page shows the location "${shown.location}"`);
    assert(shown.time !== '', 'the page shows no request time');
    ok('page.number_and_context', JSON.stringify(shown));
    await shot('signin-approval-number');
    const list = await pending();
    assert(list.length === 1, `the device lists ${list.length} pending sign-ins, wanted 1`);
    const p = list[0];
    assert(p.client === 'webapp' && p.address === shown.address && p.location === shown.location,
      `the device's context differs from the page's: ${JSON.stringify(p)}`);
    assert(!JSON.stringify(p).includes(`"${shown.number}"`) && !('number' in p),
      `the device is told the number: ${JSON.stringify(p)}`);
    ok('device.same_context_no_number', JSON.stringify(p));
    // The person reads the number off the page and types it at the prompt.
    const nav = page.waitForNavigation({ waitUntil: 'load', timeout: 20000 }).catch((e) => e);
    const r = await device(['prompt'], `${shown.number}\n`);
    assert(r.code === 0 && /approved/.test(r.out), `signet-authenticator prompt: exit ${r.code}: ${r.out} ${r.err}`);
    for (const want of ['webapp', '127.0.0.1', 'Zurich, CH'])
      assert(r.out.includes(want), `the device's prompt does not show ${want}: ${r.out}`);
    ok('device.prompt_approved');
    const navd = await nav;
    if (navd instanceof Error) fail(`the page did not go on after the approval: ${navd.message}; ${await where()}`);
    const cb = new URL(page.url());
    assert(cb.origin === rp && cb.pathname === '/cb' && cb.searchParams.get('code') &&
      cb.searchParams.get('state') === req.state && cb.searchParams.get('iss') === issuer,
    `the callback after the approval: ${cb}`);
    assert(rpHits.some((h) => h.href === cb.href), 'the RP never saw the callback');
    ok('page.redirected_with_code');
    const tokens = await client.authorizationCodeGrant(config, cb, {
      pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce,
      idTokenExpected: true,
    });
    const { payload: c } = await jose.jwtVerify(tokens.id_token, jwks, { issuer, audience: 'webapp' });
    assert(c.sub === userId, `sub ${c.sub}, wanted ${userId}`);
    assert(Array.isArray(c.amr) && c.amr.includes('pwd') && c.amr.includes('mfa') && !c.amr.includes('otp'),
      `amr ${JSON.stringify(c.amr)}, wanted pwd and mfa`);
    assert(c.acr === 'urn:signet:acr:mfa', `acr ${c.acr}, wanted urn:signet:acr:mfa`);
    ok('tokens.amr_pwd_mfa', `${c.acr} ${JSON.stringify(c.amr)}`);
    // The terminal prompt, as a picture for docs/.
    if (shotDir) {
      const html = '<!doctype html><meta charset="utf-8"><style>body{margin:0;background:#1e1e1e}' +
        'pre{color:#e6e6e6;font:15px/1.45 "DejaVu Sans Mono",monospace;padding:18px;white-space:pre-wrap}' +
        'b{color:#8ae234}</style><pre>' +
        `<b>$</b> signet-authenticator prompt\n` +
        r.out.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
          .replace(/(approve it\n?\(empty or n: deny; !: this wasn't me\): )/, `$1${shown.number}\n`) +
        '</pre>';
      const term = await browser.newPage();
      await term.setViewport({ width: 640, height: 330, deviceScaleFactor: 2 });
      await term.setContent(html);
      await term.screenshot({ path: path.join(shotDir, 'approver-prompt.png'), fullPage: true });
      await term.close();
      ok('screenshot.approver-prompt', path.join(shotDir, 'approver-prompt.png'));
    }
  }

  // ---- 3. a wrong number typed on the device denies ----------------------------------
  {
    await page.deleteCookie(...(await page.cookies(origin)));
    const { shown } = await passwordThenApproval('wrong number');
    const [p] = await pending();
    assert(p, 'the device lists no pending sign-in');
    const wrong = String((Number(shown.number) + 1) % 100).padStart(2, '0');
    const r = await device(['approve', p.id, '--number', wrong]);
    assert(r.code === 1, `a wrong number: exit ${r.code}, wanted 1: ${r.out} ${r.err}`);
    await page.waitForFunction(() => /denied/i.test(document.body.innerText), { timeout: 10000 })
      .catch(async () => fail(`the page does not say the request was denied; ${await where()}`));
    assert(isPath('/signin')(new URL(page.url())), `a wrong number left the sign-in page; ${await where()}`);
    const late = await device(['approve', p.id, '--number', shown.number]);
    assert(late.code === 1, `the right number after a wrong one: exit ${late.code}: ${late.out}`);
    ok('wrong_number.denied_on_page');
  }
  assert(cspViolations.length === 0, `CSP violations: ${cspViolations.join(' | ')}`);
  ok('csp.no_violations');
  console.log(`PEOPLE_MFA_E2E_DONE ${checks()} checks`);
} catch (e) {
  console.log(`FAIL: ${e instanceof CheckError ? e.message : e.stack}`);
  process.exitCode = 1;
} finally {
  await browser.close().catch(() => {});
  rpServer.close();
}
