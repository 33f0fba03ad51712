/* signet: the pages' only script (docs/people.md, issue 13).
 *
 * Plain ES2020, no framework, no eval, no HTML built from data: every text
 * the page shows goes through textContent. What the script needs comes
 * from the data-* attributes of <main id="signet">:
 *   data-page   signin | enrol | account | totp | logout | error
 *   data-base   "/t/<tenant>": every POST goes to base + path
 *   data-csrf   the CSRF token, sent in every JSON body
 *   data-req    (signin) the pending authorization request id, "" = none
 *               (a password, #password, is a first step: a second step,
 *               #second, ends it: a passkey, an approval, a TOTP code)
 *   data-token  (enrol) the one-time enrolment link's token
 *   data-issuer (account) the issuer URL, for signet-authenticator enrol
 *   data-client, data-post-logout-redirect-uri, data-state  (logout)
 *
 * Challenges are single use: every attempt fetches fresh options. The
 * second step's token lives in this script's memory only: never in the
 * address, a cookie or storage. */
'use strict';

(() => {
  const main = document.getElementById('signet');
  if (main === null) {
    return;
  }
  const data = main.dataset;
  const page = data.page || '';
  const base = data.base || '';
  const csrf = data.csrf || '';
  const message = document.getElementById('message');

  /* ---- messages --------------------------------------------------------- */

  /* An error whose message is meant for the person (a server's
   * error_description or one of our sentences). */
  class ShownError extends Error {}

  function say(text, kind) {
    if (message === null) {
      return;
    }
    message.textContent = text;
    message.className = kind || '';
  }

  /* A short sentence for a failed ceremony or request. */
  function describe(e) {
    if (e instanceof ShownError) {
      return e.message;
    }
    switch (e && e.name) {
      case 'NotAllowedError':
        return 'The passkey request was cancelled or timed out. Try again.';
      case 'InvalidStateError':
        return 'This device already holds a passkey for this account.';
      case 'SecurityError':
        return 'Passkeys do not work on this address: it must use HTTPS (or be localhost).';
      case 'NotSupportedError':
        return 'This device or browser does not support the kind of passkey this site needs.';
      case 'ConstraintError':
        return 'This authenticator cannot verify you (a PIN, fingerprint or face is required).';
      case 'UnknownError':
        return 'The authenticator reported an error. Try again.';
      case 'TypeError':
        return 'The passkey request could not be started. Reload the page and try again.';
      default:
        return 'Something went wrong. Try again.';
    }
  }

  function isAbort(e) {
    return e !== null && typeof e === 'object' && e.name === 'AbortError';
  }

  const buttons = Array.from(main.querySelectorAll('button'));
  const unusable = new Set(); /* buttons this browser cannot use at all */
  const held = new Set(); /* buttons off while something runs in the background */

  function busy(on) {
    for (const b of buttons) {
      b.disabled = on || unusable.has(b) || held.has(b);
    }
    main.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function hold(b, on) {
    if (b === null) {
      return;
    }
    if (on) {
      held.add(b);
    } else {
      held.delete(b);
    }
    b.disabled = on || unusable.has(b) || main.getAttribute('aria-busy') === 'true';
  }

  /* ---- base64url <-> ArrayBuffer ---------------------------------------- */

  function toBuffer(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(s)) {
      throw new ShownError('The server sent malformed passkey options. Reload the page.');
    }
    const b64 = s.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buf) {
    const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf)
      : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /* ---- options JSON -> WebAuthn's binary form --------------------------- */

  function descriptors(list) {
    return Array.isArray(list) ? list.map((c) => Object.assign({}, c, { id: toBuffer(c.id) })) : list;
  }

  function creationOptions(json) {
    const P = window.PublicKeyCredential;
    if (typeof P.parseCreationOptionsFromJSON === 'function') {
      try {
        return P.parseCreationOptionsFromJSON(json);
      } catch (e) {
        /* an older or stricter parser: convert by hand below */
      }
    }
    const o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBuffer(json.user && json.user.id) });
    if (json.excludeCredentials !== undefined) {
      o.excludeCredentials = descriptors(json.excludeCredentials);
    }
    return o;
  }

  function requestOptions(json) {
    const P = window.PublicKeyCredential;
    if (typeof P.parseRequestOptionsFromJSON === 'function') {
      try {
        return P.parseRequestOptionsFromJSON(json);
      } catch (e) {
        /* convert by hand below */
      }
    }
    const o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    if (json.allowCredentials !== undefined) {
      o.allowCredentials = descriptors(json.allowCredentials);
    }
    return o;
  }

  /* ---- the credential -> JSON (base64url, no padding) ------------------- */

  function credentialJSON(cred) {
    if (typeof cred.toJSON === 'function') {
      try {
        const j = cred.toJSON();
        if (j && typeof j.rawId === 'string' && j.response && typeof j.response.clientDataJSON === 'string') {
          return j;
        }
      } catch (e) {
        /* some password managers' objects: convert by hand below */
      }
    }
    const r = cred.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject !== undefined) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    let extensions = {};
    try {
      extensions = typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {};
    } catch (e) {
      extensions = {};
    }
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: extensions,
      response,
    };
  }

  /* ---- the JSON endpoints ------------------------------------------------ */

  /* Follows a {location} answer; never to a script URL. */
  function go(location) {
    let url;
    try {
      url = new URL(location, window.location.href);
    } catch (e) {
      throw new ShownError('The server answered with a malformed address.');
    }
    if (/^(javascript|data|vbscript|blob):$/i.test(url.protocol)) {
      throw new ShownError('The server answered with an address this page will not open.');
    }
    say('Redirecting…', 'ok');
    window.location.assign(url.href);
  }

  /* POSTs obj as JSON to base + path. Resolves with the answer's JSON; an
   * answer with a location is followed (and resolves with navigating set).
   * A refusal rejects with its error_description. */
  async function post(path, obj) {
    let res;
    try {
      res = await fetch(base + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
        body: JSON.stringify(obj),
      });
    } catch (e) {
      throw new ShownError('The server cannot be reached. Check your connection and try again.');
    }
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (!res.ok) {
      const why = body && typeof body.error_description === 'string' && body.error_description !== ''
        ? body.error_description : 'The server refused the request (HTTP ' + res.status + ').';
      throw new ShownError(why.charAt(0).toUpperCase() + why.slice(1));
    }
    if (body === null || typeof body !== 'object') {
      throw new ShownError('The server sent an unreadable answer. Try again.');
    }
    if (typeof body.location === 'string') {
      go(body.location);
      return { navigating: true };
    }
    return body;
  }

  async function fetchPublicKey(request) {
    const answer = await post('/webauthn/options', request);
    if (!answer.publicKey || typeof answer.publicKey !== 'object') {
      throw new ShownError('The server sent no passkey options. Reload the page.');
    }
    return answer.publicKey;
  }

  function webauthnAvailable() {
    return typeof window.PublicKeyCredential === 'function' && navigator.credentials !== undefined;
  }

  /* Runs one ceremony with the buttons disabled; shows what went wrong. */
  async function ceremony(run) {
    busy(true);
    say('', '');
    try {
      const result = await run();
      if (result && result.navigating) {
        return true; /* leave the buttons disabled: the page is going away */
      }
    } catch (e) {
      if (!isAbort(e)) {
        say(describe(e), 'error');
      }
    }
    busy(false);
    return false;
  }

  /* ---- create a passkey (enrol page, account page's "add") -------------- */

  async function createPasskey(purpose, token) {
    const request = purpose === 'enrol' ? { purpose, token, csrf } : { purpose, csrf };
    const publicKey = creationOptions(await fetchPublicKey(request));
    say('Follow your device\'s prompts…', 'ok');
    const cred = await navigator.credentials.create({ publicKey });
    if (cred === null) {
      throw new ShownError('No passkey was created. Try again.');
    }
    say('Saving the passkey…', 'ok');
    return post('/enrol', { token: purpose === 'enrol' ? token : '', csrf, credential: credentialJSON(cred) });
  }

  /* ---- the pages --------------------------------------------------------- */

  function signinPage(webauthn) {
    const req = data.req || '';
    const button = document.getElementById('passkey');
    let conditional = null; /* the AbortController of a pending autofill request */
    let modalActive = false; /* the button's ceremony is running */
    let conditionalRuns = 0; /* autofill requests started (capped: no loop) */

    async function finishSignin(cred) {
      if (cred === null) {
        throw new ShownError('No passkey was chosen. Try again.');
      }
      say('Signing in…', 'ok');
      return post('/signin', { req, csrf, credential: credentialJSON(cred) });
    }

    /* Conditional UI: the passkeys appear in the user-name field's
     * autofill; the request waits until one is picked or it is aborted. */
    async function startConditional() {
      if (!webauthn) {
        return;
      }
      const P = window.PublicKeyCredential;
      if (typeof P.isConditionalMediationAvailable !== 'function') {
        return;
      }
      let available = false;
      try {
        available = await P.isConditionalMediationAvailable();
      } catch (e) {
        available = false;
      }
      if (!available || conditional !== null || modalActive || conditionalRuns >= 10) {
        return;
      }
      conditionalRuns++;
      const controller = new AbortController();
      conditional = controller;
      let cred = null;
      try {
        const json = await post('/webauthn/options', { purpose: 'signin', req, csrf });
        if (controller.signal.aborted || modalActive) {
          return;
        }
        cred = await navigator.credentials.get({
          publicKey: requestOptions(json.publicKey),
          mediation: 'conditional',
          signal: controller.signal,
        });
      } catch (e) {
        if (!controller.signal.aborted && !isAbort(e) && e.name !== 'NotAllowedError') {
          say(describe(e), 'error');
        }
        return;
      } finally {
        if (conditional === controller) {
          conditional = null;
        }
      }
      if (controller.signal.aborted) {
        return;
      }
      const navigating = await ceremony(() => finishSignin(cred));
      if (!navigating) {
        startConditional(); /* the challenge is used up: offer autofill again */
      }
    }

    async function modal() {
      if (modalActive) {
        return;
      }
      modalActive = true;
      if (conditional !== null) {
        conditional.abort();
        conditional = null;
      }
      const navigating = await ceremony(async () => {
        const publicKey = requestOptions(await fetchPublicKey({ purpose: 'signin', req, csrf }));
        say('Follow your device\'s prompts…', 'ok');
        return finishSignin(await navigator.credentials.get({ publicKey }));
      });
      modalActive = false;
      if (!navigating) {
        startConditional();
      }
    }

    /* ---- the second step after a right password (issue 14) ----------- */

    const METHODS = ['passkey', 'approval', 'totp'];
    const second = {
      token: '', /* the pending second step: memory only */
      methods: [],
      publicKey: null, /* the passkey options (single-use challenge) */
      passkeySpent: false, /* its challenge went to the server once */
      shown: false,
    };
    const approval = { id: '', timer: 0, tick: 0, left: 0, running: false };

    function showSecond(answer) {
      let methods = [];
      if (answer.next === 'passkey') { /* an older server: the passkey only */
        methods = ['passkey'];
      } else if (answer.next === 'second_factor' && Array.isArray(answer.methods)) {
        methods = answer.methods.filter((m) => METHODS.includes(m));
      } else {
        throw new ShownError('The server sent an unexpected answer. Reload the page.');
      }
      const hasKey = answer.publicKey !== null && typeof answer.publicKey === 'object';
      if (!hasKey) {
        methods = methods.filter((m) => m !== 'passkey');
      }
      if (methods.some((m) => m !== 'passkey') && (typeof answer.token !== 'string' || answer.token === '')) {
        methods = methods.filter((m) => m === 'passkey');
      }
      if (methods.length === 0) {
        throw new ShownError('This account has no second step this organisation accepts. Ask your administrator.');
      }
      stopApproval();
      second.token = typeof answer.token === 'string' ? answer.token : '';
      second.methods = methods;
      second.publicKey = hasKey ? answer.publicKey : null;
      second.passkeySpent = false;
      second.shown = true;
      const details = main.querySelector('details.password');
      if (details !== null) {
        details.open = false;
        details.hidden = true;
      }
      for (const wrap of main.querySelectorAll('#second [data-method]')) {
        wrap.hidden = !methods.includes(wrap.dataset.method);
      }
      const panel = document.getElementById('approval');
      if (panel !== null) {
        panel.hidden = true;
      }
      const section = document.getElementById('second');
      if (section !== null) {
        section.hidden = false;
      }
      say(methods.length === 1 ? 'Your password is right: confirm it\'s you.'
        : 'Your password is right: choose how to confirm it\'s you.', 'ok');
      return {};
    }

    /* Back to the password: a new token and a new challenge. */
    function startAgain(text) {
      stopApproval();
      second.token = '';
      second.publicKey = null;
      second.shown = false;
      const section = document.getElementById('second');
      if (section !== null) {
        section.hidden = true;
      }
      const details = main.querySelector('details.password');
      if (details !== null) {
        details.hidden = false;
        details.open = true;
      }
      throw new ShownError(text);
    }

    async function secondPasskey() {
      if (second.publicKey === null || second.passkeySpent) {
        return startAgain('This passkey request was used. Start again with your password.');
      }
      say('Follow your device\'s prompts…', 'ok');
      const cred = await navigator.credentials.get({ publicKey: requestOptions(second.publicKey) });
      if (cred === null) {
        throw new ShownError('No passkey was chosen. Try again.');
      }
      second.passkeySpent = true; /* the server takes its challenge once */
      try {
        return await finishSignin(cred);
      } catch (e) {
        if (second.methods.length === 1) {
          return startAgain(describe(e) + ' Start again with your password to use a passkey.');
        }
        const wrap = main.querySelector('#second [data-method="passkey"]');
        if (wrap !== null) {
          wrap.hidden = true;
        }
        throw new ShownError(describe(e) + ' To use a passkey, start again with your password.');
      }
    }

    function setApprovalButton(label) {
      const b = document.getElementById('second-approval');
      if (b !== null) {
        b.textContent = label;
      }
    }

    function showExpiry() {
      const el = document.getElementById('approval-expires');
      if (el !== null) {
        el.textContent = approval.left > 0 ? 'Expires in ' + approval.left + ' s' : 'Expiring…';
      }
    }

    function stopApproval() {
      if (approval.timer !== 0) {
        window.clearTimeout(approval.timer);
      }
      if (approval.tick !== 0) {
        window.clearInterval(approval.tick);
      }
      approval.timer = 0;
      approval.tick = 0;
      approval.id = '';
      approval.running = false;
      hold(document.getElementById('second-approval'), false);
    }

    /* The approval is over without a sign-in: say why, offer a new one. */
    function approvalEnded(text) {
      stopApproval();
      const panel = document.getElementById('approval');
      if (panel !== null) {
        panel.hidden = true;
      }
      setApprovalButton('Send a new request');
      say(text, 'error');
    }

    async function pollApproval() {
      approval.timer = 0;
      if (!approval.running) {
        return;
      }
      const id = approval.id;
      let answer;
      try {
        answer = await post('/signin/approval/status', { csrf, token: second.token, approval: id });
      } catch (e) {
        if (approval.running && approval.id === id) {
          approvalEnded(describe(e));
        }
        return;
      }
      if (!approval.running || approval.id !== id) {
        return; /* stopped (or replaced) meanwhile */
      }
      if (answer.navigating) {
        window.clearInterval(approval.tick);
        approval.tick = 0;
        approval.running = false;
        busy(true); /* the page is going away */
        return;
      }
      switch (answer.state) {
        case 'pending':
          if (Number.isInteger(answer.expires_in) && answer.expires_in >= 0) {
            approval.left = answer.expires_in;
            showExpiry();
          }
          approval.timer = window.setTimeout(pollApproval, 1500);
          return;
        case 'denied':
          approvalEnded('The request was denied on your device. You can send a new request.');
          return;
        case 'expired':
          approvalEnded('The request expired before it was approved. You can send a new request.');
          return;
        case 'used':
          approvalEnded('This request was already used. You can send a new request.');
          return;
        default:
          approvalEnded('The server sent an unexpected answer. You can send a new request.');
      }
    }

    async function requestApproval() {
      stopApproval();
      say('Sending the request to your device…', 'ok');
      const answer = await post('/signin/approval', { csrf, token: second.token });
      if (answer.navigating) {
        return answer;
      }
      if (typeof answer.approval !== 'string' || answer.approval === '' ||
          typeof answer.number !== 'string' || !/^[0-9]{1,4}$/.test(answer.number)) {
        throw new ShownError('The server sent an unexpected answer. Try again.');
      }
      approval.id = answer.approval;
      approval.left = Number.isInteger(answer.expires_in) && answer.expires_in > 0 ? answer.expires_in : 60;
      approval.running = true;
      const number = document.getElementById('approval-number');
      if (number !== null) {
        number.textContent = answer.number;
      }
      /* The same context the device shows, so both can be compared. */
      const text = (id, value) => {
        const el = document.getElementById(id);
        if (el !== null) {
          el.textContent = typeof value === 'string' ? value : '';
        }
      };
      text('approval-client', answer.client_name);
      text('approval-address', answer.address);
      text('approval-location', answer.place);
      for (const el of main.querySelectorAll('#approval-context .loc')) {
        el.hidden = typeof answer.place !== 'string' || answer.place === '';
      }
      text('approval-time', Number.isInteger(answer.created_at)
        ? new Date(answer.created_at * 1000).toLocaleTimeString() : '');
      const panel = document.getElementById('approval');
      if (panel !== null) {
        panel.hidden = false;
      }
      showExpiry();
      approval.tick = window.setInterval(() => {
        if (approval.left > 0) {
          approval.left--;
        }
        showExpiry();
      }, 1000);
      hold(document.getElementById('second-approval'), true);
      setApprovalButton('Approve on my device');
      approval.timer = window.setTimeout(pollApproval, 1500);
      say('Open signet-authenticator on your device and type the number shown here.', 'ok');
      return {};
    }

    async function secondTotp() {
      const input = document.getElementById('totpcode');
      const code = input !== null ? input.value.replace(/\s+/g, '') : '';
      if (code === '') {
        throw new ShownError('Type the 6-digit code your authenticator app shows.');
      }
      say('Checking the code…', 'ok');
      try {
        const answer = await post('/signin/totp', { csrf, token: second.token, code });
        if (!answer.navigating) {
          throw new ShownError('The server sent an unexpected answer. Try again.');
        }
        stopApproval();
        return answer;
      } finally {
        if (input !== null) {
          input.value = '';
        }
      }
    }

    /* A password is only the first step: the answer lists the second
     * steps the account and the organisation allow. */
    async function withPassword() {
      const name = document.getElementById('username');
      const password = document.getElementById('password');
      if (name === null || password === null || name.value === '' || password.value === '') {
        throw new ShownError('Enter your user name and your password.');
      }
      if (conditional !== null) {
        conditional.abort();
        conditional = null;
      }
      say('Checking…', 'ok');
      let answer;
      try {
        answer = await post('/signin/password', { req, csrf, name: name.value, password: password.value });
      } finally {
        password.value = '';
      }
      if (answer.navigating) {
        return answer;
      }
      return showSecond(answer);
    }

    if (button !== null) {
      button.addEventListener('click', modal);
    }
    const pwButton = document.getElementById('pwsignin');
    if (pwButton !== null) {
      pwButton.addEventListener('click', async () => {
        modalActive = true;
        const navigating = await ceremony(withPassword);
        modalActive = false;
        if (!navigating && !second.shown) {
          startConditional();
        }
      });
    }
    const secondKey = document.getElementById('second-passkey');
    if (secondKey !== null) {
      secondKey.addEventListener('click', async () => {
        if (modalActive) {
          return;
        }
        modalActive = true;
        if (conditional !== null) {
          conditional.abort();
          conditional = null;
        }
        await ceremony(secondPasskey);
        modalActive = false;
      });
    }
    const approvalButton = document.getElementById('second-approval');
    if (approvalButton !== null) {
      approvalButton.addEventListener('click', () => ceremony(requestApproval));
    }
    const totpButton = document.getElementById('second-totp');
    const totpInput = document.getElementById('totpcode');
    if (totpButton !== null) {
      totpButton.addEventListener('click', () => ceremony(secondTotp));
    }
    if (totpInput !== null && totpButton !== null) {
      totpInput.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !totpButton.disabled) {
          ev.preventDefault();
          totpButton.click();
        }
      });
    }
    if (webauthn) {
      startConditional();
    }
  }

  function enrolPage() {
    const token = data.token || '';
    const button = document.getElementById('create');
    if (button !== null) {
      button.addEventListener('click', () => ceremony(() => createPasskey('enrol', token)));
    }
  }

  function accountPage() {
    const add = document.getElementById('add');
    const logout = document.getElementById('logout');
    if (add !== null) {
      add.addEventListener('click', () => ceremony(() => createPasskey('add', '')));
    }
    if (logout !== null) {
      logout.addEventListener('click', () => ceremony(() => post('/logout', { csrf })));
    }
    const setpw = document.getElementById('setpw');
    const removepw = document.getElementById('removepw');
    const newpw = document.getElementById('newpw');
    if (setpw !== null && newpw !== null) {
      setpw.addEventListener('click', () => ceremony(async () => {
        await post('/account/password', { csrf, password: newpw.value });
        newpw.value = '';
        window.location.reload();
        return { navigating: true };
      }));
    }
    if (removepw !== null) {
      removepw.addEventListener('click', () => ceremony(async () => {
        await post('/account/password', { csrf, remove: true });
        window.location.reload();
        return { navigating: true };
      }));
    }

    /* Approval devices (issue 14): a one-time code for
     * `signet-authenticator enrol`, and Remove. */
    const deviceCode = document.getElementById('device-code');
    if (deviceCode !== null) {
      deviceCode.addEventListener('click', () => ceremony(async () => {
        const answer = await post('/account/device', { csrf });
        if (answer.navigating) {
          return answer;
        }
        if (typeof answer.code !== 'string' || !/^[A-Za-z0-9-]{4,64}$/.test(answer.code)) {
          throw new ShownError('The server sent an unexpected answer. Try again.');
        }
        const value = document.getElementById('device-code-value');
        const command = document.getElementById('device-command');
        const expires = document.getElementById('device-code-expires');
        const panel = document.getElementById('device-enrol');
        if (value !== null) {
          value.textContent = answer.code;
        }
        if (command !== null) {
          command.textContent = 'signet-authenticator enrol --issuer ' + shellWord(data.issuer || '') +
            ' --code ' + answer.code;
        }
        if (expires !== null) {
          const minutes = Number.isInteger(answer.expires_in) && answer.expires_in > 0
            ? Math.max(1, Math.round(answer.expires_in / 60)) : 10;
          expires.textContent = 'The code works once, for ' + minutes + (minutes === 1 ? ' minute.' : ' minutes.');
        }
        if (panel !== null) {
          panel.hidden = false;
        }
        say('', '');
        return {};
      }));
    }
    for (const b of main.querySelectorAll('button.remove-device')) {
      b.addEventListener('click', () => ceremony(async () => {
        await post('/account/device', { csrf, remove: b.dataset.device || '' });
        window.location.reload();
        return { navigating: true };
      }));
    }

    /* Authenticator app (TOTP): set up on its own page, or remove. */
    const totpSetup = document.getElementById('totp-setup');
    if (totpSetup !== null) {
      totpSetup.addEventListener('click', () => {
        busy(true);
        window.location.assign(base + '/account/totp');
      });
    }
    const totpRemove = document.getElementById('totp-remove');
    if (totpRemove !== null) {
      totpRemove.addEventListener('click', () => ceremony(async () => {
        await post('/account/totp', { csrf, remove: true });
        window.location.reload();
        return { navigating: true };
      }));
    }
  }

  /* A word a POSIX shell reads as is: quoted unless it is plainly safe. */
  function shellWord(w) {
    return /^[A-Za-z0-9_.:\/@%+=,-]+$/.test(w) ? w : '\'' + w.replace(/'/g, '\'\\\'\'') + '\'';
  }

  /* The TOTP set-up page: the first code confirms the app holds the key. */
  function totpPage() {
    const button = document.getElementById('totp-confirm');
    const input = document.getElementById('totpcode');
    if (button === null || input === null) {
      return;
    }
    button.addEventListener('click', () => ceremony(async () => {
      const code = input.value.replace(/\s+/g, '');
      if (code === '') {
        throw new ShownError('Type the 6-digit code your authenticator app shows.');
      }
      say('Checking the code…', 'ok');
      const answer = await post('/account/totp', { csrf, code });
      if (answer.navigating) {
        return answer;
      }
      if (answer.totp !== true) {
        input.value = '';
        throw new ShownError('The server sent an unexpected answer. Try again.');
      }
      say('The authenticator app is set up.', 'ok');
      window.location.assign(base + '/account');
      return { navigating: true };
    }));
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !button.disabled) {
        ev.preventDefault();
        button.click();
      }
    });
  }

  function logoutPage() {
    const button = document.getElementById('logout');
    if (button !== null) {
      button.addEventListener('click', () => ceremony(() => post('/logout', {
        csrf,
        client_id: data.client || '',
        post_logout_redirect_uri: data.postLogoutRedirectUri || '',
        state: data.state || '',
      })));
    }
  }

  function start() {
    const needsWebAuthn = page === 'signin' || page === 'enrol' || page === 'account';
    const webauthn = webauthnAvailable();
    if (needsWebAuthn && !webauthn) {
      say('This browser does not support passkeys. Use a current browser on a device with a screen lock.', 'error');
      for (const id of ['passkey', 'create', 'add', 'second-passkey']) {
        const b = document.getElementById(id);
        if (b !== null) {
          unusable.add(b);
          b.disabled = true;
        }
      }
      if (page === 'enrol') {
        return; /* a password, an approval, a code and signing out still work */
      }
    }
    switch (page) {
      case 'signin':
        signinPage(webauthn);
        break;
      case 'enrol':
        enrolPage();
        break;
      case 'account':
        accountPage();
        break;
      case 'totp':
        totpPage();
        break;
      case 'logout':
        logoutPage();
        break;
      default:
        break; /* the error page has nothing to do */
    }
  }

  start();
})();
