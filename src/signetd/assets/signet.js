/* signet: the pages' only script (docs/people.md, issue 13).
 *
 * Plain ES2020, no framework, no eval, no HTML built from data: every text
 * the page shows goes through textContent. What the script needs comes
 * from the data-* attributes of <main id="signet">:
 *   data-page   signin | enrol | account | logout | error
 *   data-base   "/t/<tenant>": every POST goes to base + path
 *   data-csrf   the CSRF token, sent in every JSON body
 *   data-req    (signin) the pending authorization request id, "" = none
 *               (a password, #password, is a first step: a passkey ends it)
 *   data-token  (enrol) the one-time enrolment link's token
 *   data-client, data-post-logout-redirect-uri, data-state  (logout)
 *
 * Challenges are single use: every attempt fetches fresh options. */
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

  function busy(on) {
    for (const b of buttons) {
      b.disabled = on || unusable.has(b);
    }
    main.setAttribute('aria-busy', on ? 'true' : 'false');
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

  function signinPage() {
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

    /* A password is only the first step: the answer is the options of
     * the account's passkeys, and the passkey finishes the sign-in. */
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
      const answer = await post('/signin/password', { req, csrf, name: name.value, password: password.value });
      password.value = '';
      if (!answer.publicKey || typeof answer.publicKey !== 'object') {
        throw new ShownError('The server sent no passkey options. Reload the page.');
      }
      say('Now confirm with your passkey: follow your device\'s prompts…', 'ok');
      return finishSignin(await navigator.credentials.get({ publicKey: requestOptions(answer.publicKey) }));
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
        if (!navigating) {
          startConditional();
        }
      });
    }
    startConditional();
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
    if (needsWebAuthn && !webauthnAvailable()) {
      say('This browser does not support passkeys. Use a current browser on a device with a screen lock.', 'error');
      for (const id of ['passkey', 'create', 'add']) {
        const b = document.getElementById(id);
        if (b !== null) {
          unusable.add(b);
          b.disabled = true;
        }
      }
      if (page === 'account') {
        accountPage(); /* signing out still works */
      }
      return;
    }
    switch (page) {
      case 'signin':
        signinPage();
        break;
      case 'enrol':
        enrolPage();
        break;
      case 'account':
        accountPage();
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
