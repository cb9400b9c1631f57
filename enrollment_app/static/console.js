/* Operator console: sign in with password and TOTP code, then one view per page.
 *
 * Plain JavaScript, no build step, no inline script: the page hands over its paths in a JSON
 * block (#console-config). The API decides everything (who may see what, and audits it); this
 * script asks GET /me who is signed in, shows the navigation their permissions allow, loads the
 * page's view and sends changes with the CSRF token (read from the console's CSRF cookie). A
 * refusal shows the problem's English `note`. A 401 from any call means the session is over (the
 * time limit, idling, the end of the allowed hours): back to the sign-in form, with the reason.
 * Everything shown is written with textContent, never as HTML.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("console-config").textContent);
  const $ = (id) => document.getElementById(id);
  const MESSAGE_KEY = "optin-console-message";
  const TIMEOUT_MS = 30000;
  const KINDS = {
    access: "Access",
    deletion: "Deletion",
    correction: "Correction",
    withdrawal: "Withdrawal",
    objection: "Objection",
  };
  const STATES = {
    received: "Received, identity not verified",
    verified: "Identity verified",
    in_progress: "In progress",
    completed: "Completed",
    rejected: "Rejected",
  };
  const CHANNELS = {
    portal: "Portal",
    email: "Email",
    post: "Post",
    phone: "Phone",
    in_person: "In person",
  };
  const PURPOSES = { entry: "Entry", payment: "Payment" };
  const DEVICE_STATES = {
    pending: "Link not used yet",
    expired: "Link expired",
    registered: "Registered",
    revoked: "Revoked",
  };
  const OPEN = new Set(["received", "verified", "in_progress"]);
  // Times in the zone the allowed hours are read in, with the zone named ("3 May 2026, 14:05 GMT+9").
  const moment = new Intl.DateTimeFormat("en-GB", {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: config.timezone,
    timeZoneName: "short",
  });
  let me = null;

  // --- helpers ----------------------------------------------------------------------------

  function say(element, text) {
    if (element) {
      element.textContent = text || "";
    }
  }

  function fail(element, text) {
    say(element, text);
    if (element && text) {
      element.focus();
    }
  }

  /* "sign-in is not allowed ..." -> "Sign-in is not allowed ...." */
  function sentence(text) {
    const trimmed = String(text || "").trim();
    if (!trimmed) {
      return "";
    }
    const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
    return /[.!?]\)?$/.test(first) ? first : first + ".";
  }

  function el(tag, props, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) {
        continue;
      }
      if (key === "text") {
        element.textContent = value;
      } else if (key === "class") {
        element.className = value;
      } else if (/^(data-|aria-)/.test(key) || key === "type" || key === "role") {
        element.setAttribute(key, value);
      } else {
        element[key] = value;
      }
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        element.append(child);
      }
    }
    return element;
  }

  function when(iso, fallback) {
    if (!iso) {
      return document.createTextNode(fallback || "—");
    }
    return el("time", { dateTime: iso, text: moment.format(new Date(iso)) });
  }

  function row(...cells) {
    return el(
      "tr",
      {},
      ...cells.map((cell) =>
        cell instanceof Node && cell.tagName === "TD" ? cell : el("td", {}, cell)
      )
    );
  }

  function fillTable(table, rows) {
    table.tBodies[0].replaceChildren(...rows);
  }

  /* A row of the devices table (templates/console/tables.html): the operator's own page and an
     administrator's view of one operator show the same columns. */
  function deviceRow(d, action) {
    return row(
      d.label,
      DEVICE_STATES[d.state] || d.state,
      d.user_agent || "—",
      when(d.registered_at, "Not yet"),
      when(d.last_used_at, "Never"),
      action
    );
  }

  function facts(list, pairs) {
    list.replaceChildren();
    for (const [term, value] of pairs) {
      list.append(
        el("dt", { text: term }),
        el("dd", {}, value === null || value === undefined ? "—" : value)
      );
    }
  }

  function lines(text) {
    return text
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
  }

  function csrfToken() {
    for (const part of document.cookie.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === config.csrfCookie) {
        return decodeURIComponent(rest.join("="));
      }
    }
    return "";
  }

  function problemText(problem) {
    if (problem.note) {
      return sentence(problem.note);
    }
    if (Array.isArray(problem.errors) && problem.errors.length) {
      const fields = problem.errors.map((e) => `${e.key || "request"}: ${e.message}`);
      return `Please check: ${fields.join("; ")}.`;
    }
    return sentence(problem.detail || problem.title || "The request failed");
  }

  function signedOut(text, kind) {
    sessionStorage.setItem(MESSAGE_KEY, JSON.stringify({ text, kind: kind || "ended" }));
    window.location.replace(config.pages.signIn);
  }

  /* One API call. Answers {ok, status, data, message, headers}; `ended` when a 401 has sent the
     browser back to the sign-in form (the caller then does nothing more). */
  async function call(method, url, body, options) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const headers = { Accept: "application/json", "Accept-Language": "en" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrfToken();
    }
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: method === "GET" ? undefined : JSON.stringify(body || {}),
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (_) {
      return {
        ok: false,
        status: 0,
        message: "The server could not be reached. Nothing was changed; please try again.",
      };
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = {};
    }
    if (response.ok) {
      return { ok: true, status: response.status, data, headers: response.headers };
    }
    const message = problemText(data || {});
    if (response.status === 401 && !(options && options.signingIn)) {
      signedOut(message);
      return { ok: false, status: 401, message, ended: true };
    }
    return { ok: false, status: response.status, message, data };
  }

  /* Runs a change with the buttons of `scope` disabled; shows a refusal in `errorBox`. */
  async function change(scope, errorBox, method, url, body) {
    const buttons = Array.from((scope || document).querySelectorAll("button"));
    for (const button of buttons) {
      button.disabled = true;
    }
    say(errorBox, "");
    try {
      const answer = await call(method, url, body);
      if (!answer.ok && !answer.ended) {
        fail(errorBox, answer.message);
      }
      return answer;
    } finally {
      for (const button of buttons) {
        button.disabled = false;
      }
    }
  }

  function required(field, errorBox, message) {
    if (field.value.trim()) {
      field.removeAttribute("aria-invalid");
      return true;
    }
    field.setAttribute("aria-invalid", "true");
    fail(errorBox, message);
    return false;
  }

  /* Offer a JSON answer as a file, named as the server suggested. */
  function download(answer, fallbackName) {
    const disposition = (answer.headers && answer.headers.get("content-disposition")) || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const name = match ? match[1] : fallbackName;
    const blob = new Blob([JSON.stringify(answer.data, null, 2) + "\n"], {
      type: "application/json",
    });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return name;
  }

  function startPage(operator) {
    const first = config.pages.start.find((page) => operator.permissions.includes(page.permission));
    return first ? first.path : null;
  }

  function identity(codeField, subjectField) {
    const code = codeField.value.trim();
    const subject = subjectField.value.trim();
    return code ? { recovery_code: code } : subject ? { subject_id: subject } : null;
  }

  // --- device registration: the page a registration link opens -----------------------------

  /* The code is in the link's fragment (#...), which browsers send to no server. It is spent
     only when the operator presses the button, so a link preview cannot use it up. */
  function initDevice() {
    const code = decodeURIComponent(window.location.hash.slice(1));
    history.replaceState(null, "", window.location.pathname);
    const button = $("device-button");
    const errorBox = $("device-error");
    if (!code) {
      button.hidden = true;
      fail(errorBox, "This link holds no registration code. Ask an administrator for a new link.");
      return;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      const answer = await call("POST", `${config.api.devices}/register`, { code }, { signingIn: true });
      if (!answer.ok) {
        button.disabled = false;
        fail(errorBox, answer.message);
        return;
      }
      button.hidden = true;
      say(errorBox, "");
      say(
        $("device-message"),
        `This browser is now registered for ${answer.data.username} as "${answer.data.label}". You can sign in.`
      );
      $("device-sign-in").hidden = false;
      $("device-message").focus();
    });
  }

  // --- sign-in ----------------------------------------------------------------------------

  function signInMessage(answer) {
    if (answer.status === 401) {
      return "Sign-in refused: wrong user name, password or code. Codes change every 30 seconds and each works only once.";
    }
    if (answer.status === 423) {
      return `${answer.message} An administrator can unlock the account sooner.`;
    }
    if (answer.status === 403) {
      return `Sign-in refused. ${answer.message}`;
    }
    return answer.message;
  }

  async function initSignIn() {
    const notice = $("sign-in-message");
    const stored = sessionStorage.getItem(MESSAGE_KEY);
    if (stored) {
      sessionStorage.removeItem(MESSAGE_KEY);
      const { text } = JSON.parse(stored);
      say(notice, text);
      notice.focus();
    } else if (csrfToken()) {
      // Signed in already (a bookmark to /console): straight to the first view.
      const answer = await call("GET", config.api.me, null, { signingIn: true });
      if (answer.ok && startPage(answer.data)) {
        window.location.replace(startPage(answer.data));
        return;
      }
    }
    const form = $("sign-in-form");
    const errorBox = $("sign-in-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const code = $("code");
      code.value = code.value.replace(/\s+/g, "");
      for (const field of [$("username"), $("password"), code]) {
        field.removeAttribute("aria-invalid");
      }
      if (
        !required($("username"), errorBox, "Please enter your user name.") ||
        !required($("password"), errorBox, "Please enter your password.") ||
        !required(code, errorBox, "Please enter the six-digit code from your authenticator app.")
      ) {
        return;
      }
      if (!/^\d{6}$/.test(code.value)) {
        code.setAttribute("aria-invalid", "true");
        fail(errorBox, "The code has six digits, for example 123456.");
        return;
      }
      say(notice, "");
      const button = $("sign-in-button");
      button.disabled = true;
      say(errorBox, "");
      const answer = await call(
        "POST",
        config.api.signIn,
        { username: $("username").value.trim(), password: $("password").value, code: code.value },
        { signingIn: true }
      );
      button.disabled = false;
      if (answer.ok) {
        const start = startPage(answer.data);
        if (start) {
          window.location.replace(start);
          return;
        }
        fail(errorBox, "Your account has no console pages. Ask an administrator.");
        return;
      }
      code.value = ""; // each code works once
      fail(errorBox, signInMessage(answer));
    });
  }

  // --- signed-in pages --------------------------------------------------------------------

  async function initView() {
    const answer = await call("GET", config.api.me);
    if (!answer.ok) {
      if (!answer.ended) {
        fail($("loading"), answer.message);
      }
      return;
    }
    me = answer.data;
    say($("session-user"), me.username);
    say($("session-role"), config.roles[me.role] || me.role);
    const ends = $("session-ends");
    ends.dateTime = me.session_expires_at;
    say(ends, moment.format(new Date(me.session_expires_at)));
    $("session").hidden = false;
    for (const item of document.querySelectorAll("nav.views [data-permission]")) {
      item.hidden = !me.permissions.includes(item.dataset.permission);
    }
    $("sign-out").addEventListener("click", signOut);
    // At the session's end the server signs the operator out; ask it then, and follow.
    const left = new Date(me.session_expires_at).getTime() - Date.now();
    setTimeout(
      () => call("GET", config.api.me),
      Math.min(Math.max(left + 1000, 1000), 2 ** 31 - 1)
    );

    $("loading").hidden = true;
    if (config.permission && !me.permissions.includes(config.permission)) {
      $("view-denied").hidden = false;
      return;
    }
    $("view").hidden = false;
    await VIEWS[config.view]();
  }

  async function signOut() {
    const answer = await call("POST", config.api.signOut, {}, { signingIn: true });
    if (answer.ok || answer.status === 401) {
      signedOut("You have signed out.", "signed-out");
    } else {
      fail($("sign-out-error"), answer.message);
    }
  }

  // --- privacy officer: the request inbox ---------------------------------------------------

  function clockFlag(request) {
    if (request.overdue) {
      return el("strong", { class: "flag overdue", text: "Overdue" });
    }
    if (request.past_target) {
      return el("strong", { class: "flag past-target", text: "Past target" });
    }
    if (OPEN.has(request.status)) {
      return el("span", { class: "flag on-time", text: "On time" });
    }
    return el("span", { text: "Closed" });
  }

  function daysText(request) {
    if (!OPEN.has(request.status)) {
      return "";
    }
    const days = Math.abs(request.days_left);
    return request.days_left < 0 ? `${days} days overdue` : `${days} days left`;
  }

  async function inbox() {
    const show = new URLSearchParams(window.location.search).get("show") === "all" ? "all" : "open";
    $("show").value = show;
    const answer = await call("GET", `${config.api.requests}?show=${show}`);
    if (!answer.ok) {
      fail($("inbox-error"), answer.message);
      return;
    }
    const requests = answer.data
      .slice()
      .sort(
        (a, b) =>
          new Date(a.due_at) - new Date(b.due_at) ||
          new Date(a.received_at) - new Date(b.received_at)
      );
    fillTable(
      $("inbox"),
      requests.map((r) => {
        const tr = row(
          el("a", {
            href: config.pages.request + r.id,
            text: `${KINDS[r.kind] || r.kind} request`,
          }),
          clockFlag(r),
          el("span", {}, when(r.due_at), el("br"), daysText(r)),
          STATES[r.status] || r.status,
          when(r.received_at),
          CHANNELS[r.channel] || r.channel,
          r.subject_id ? "Identified" : "Not identified yet"
        );
        tr.className = r.overdue ? "overdue" : r.past_target ? "past-target" : "";
        tr.dataset.requestId = r.id;
        tr.dataset.clock = r.overdue ? "overdue" : r.past_target ? "past-target" : "on-time";
        return tr;
      })
    );
    $("inbox-empty").hidden = requests.length > 0;
    const overdue = requests.filter((r) => r.overdue).length;
    const late = requests.filter((r) => r.past_target && !r.overdue).length;
    say(
      $("inbox-summary"),
      `${requests.length} ${show === "open" ? "open " : ""}requests. Overdue: ${overdue}. ` +
        `Past our target, not yet overdue: ${late}.`
    );
  }

  // --- privacy officer: one request ---------------------------------------------------------

  function renderRequest(r) {
    const title = `${KINDS[r.kind] || r.kind} request`;
    say($("view-title"), title);
    document.title = `${title} · optin console`;
    $("request-flags").replaceChildren(clockFlag(r), document.createTextNode(daysText(r)));
    facts($("request-facts"), [
      ["Status", STATES[r.status] || r.status],
      ["Received", el("span", {}, when(r.received_at), ` (${CHANNELS[r.channel] || r.channel})`)],
      ["Our target", when(r.target_at)],
      ["Statutory deadline", when(r.due_at)],
      ["The request", r.details],
      ["Identity check", r.identity_check || "Not recorded yet"],
      ["Identity verified", when(r.verified_at, "Not yet")],
      ["Person", r.subject_id ? el("code", { text: r.subject_id }) : "Not identified yet"],
      ["Closed", when(r.closed_at, "Open")],
      ["Outcome", r.outcome],
      ["Request id", el("code", { text: r.id })],
    ]);
    const open = OPEN.has(r.status);
    $("verify-section").hidden = !open || Boolean(r.verified_at);
    $("start-section").hidden = !open || r.status === "in_progress";
    $("package-section").hidden = !open || !r.verified_at || !r.subject_id;
    $("close-section").hidden = !open;
    const person = $("person-link");
    person.hidden = !r.subject_id;
    if (r.subject_id) {
      person.querySelector("a").href =
        `${config.pages.people}?subject=${encodeURIComponent(r.subject_id)}`;
    }
  }

  async function requestView() {
    const url = `${config.api.requests}/${config.requestId}`;
    const errorBox = $("request-error");
    const status = $("request-status");
    const answer = await call("GET", url);
    if (!answer.ok) {
      fail(errorBox, answer.message);
      return;
    }
    renderRequest(answer.data);

    async function act(scope, path, body, done) {
      say(status, "");
      const result = await change(scope, errorBox, "POST", `${url}/${path}`, body);
      if (result.ok) {
        renderRequest(result.data);
        say(status, done);
        status.focus();
      }
      return result;
    }

    $("verify-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const who = identity($("verify-code"), $("verify-subject"));
      if (!who) {
        $("verify-code").setAttribute("aria-invalid", "true");
        fail(errorBox, "Give the person's recovery code or their id.");
        return;
      }
      $("verify-code").removeAttribute("aria-invalid");
      if (!required($("verify-check"), errorBox, "Say how the identity was checked.")) {
        return;
      }
      await act(
        $("verify-form"),
        "verify",
        { ...who, identity_check: $("verify-check").value },
        "Identity check recorded."
      );
    });
    $("start-button").addEventListener("click", () =>
      act($("start-section"), "start", {}, "The request is now in progress.")
    );
    $("package-button").addEventListener("click", async () => {
      say(status, "");
      const result = await change(
        $("package-section"),
        errorBox,
        "POST",
        `${url}/response-package`,
        {}
      );
      if (result.ok) {
        const name = download(result, "response-package.json");
        say(
          status,
          `Response package downloaded as ${name}. The download is recorded in the audit log.`
        );
        status.focus();
      }
    });
    $("close-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (
        !required(
          $("close-outcome"),
          errorBox,
          "Describe the outcome; the person reads it in their portal."
        )
      ) {
        return;
      }
      const chosen = document.querySelector("input[name='close-status']:checked").value;
      await act(
        $("close-form"),
        "close",
        { status: chosen, outcome: $("close-outcome").value },
        `The request is closed as ${chosen}.`
      );
    });
  }

  // --- privacy officer: a request received by phone, mail or in person ----------------------

  async function newRequest() {
    const form = $("new-request-form");
    const errorBox = $("new-request-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (
        !required($("new-details"), errorBox, "Write down what the person asked for.") ||
        !required(
          $("new-identity"),
          errorBox,
          "Say how the identity was checked (or that it could not be yet)."
        )
      ) {
        return;
      }
      const body = {
        kind: $("new-kind").value,
        channel: $("new-channel").value,
        details: $("new-details").value,
        identity_check: $("new-identity").value,
        ...(identity($("new-code"), $("new-subject")) || {}),
      };
      const answer = await change(form, errorBox, "POST", config.api.requests, body);
      if (answer.ok) {
        window.location.assign(config.pages.request + answer.data.id);
      }
    });
  }

  // --- privacy officer: a person's record, on a stated reason -------------------------------

  function table(caption, headings, rows) {
    if (!rows.length) {
      return el("p", { text: `${caption}: none.` });
    }
    return el(
      "div",
      { class: "table-wrap", role: "region", tabIndex: 0, "aria-label": caption },
      el(
        "table",
        { class: "data" },
        el("caption", { text: caption }),
        el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...rows.map((cells) => row(...cells)))
      )
    );
  }

  function renderRecord(doc) {
    const subject = doc.subject;
    const list = el("dl", { class: "facts" });
    facts(list, [
      ["Person id", el("code", { text: subject.id })],
      ["Email", subject.contact?.email],
      ["Language", subject.locale],
      ["Enrolled", when(subject.enrolled_at)],
      ["Deleted automatically", when(subject.retention_until)],
      [
        "Face template",
        doc.face_templates.length
          ? doc.face_templates
              .map((t) => `${t.model}, made ${moment.format(new Date(t.created_at))}`)
              .join("; ")
          : "None",
      ],
    ]);
    $("record-body").replaceChildren(
      list,
      table(
        "Consents",
        ["Purpose", "Venue", "Notice version", "Given", "Withdrawn"],
        doc.consents.map((c) => [
          PURPOSES[c.purpose] || c.purpose,
          c.venue.name,
          String(c.notice.version),
          when(c.granted_at),
          when(c.withdrawn_at, "No"),
        ])
      ),
      table(
        "Requests",
        ["Kind", "Status", "Received", "Due", "Outcome"],
        doc.privacy_requests.map((r) => [
          KINDS[r.kind] || r.kind,
          STATES[r.status] || r.status,
          when(r.received_at),
          when(r.due_at),
          r.outcome || "—",
        ])
      ),
      table(
        "Gate decisions",
        ["Time", "Venue", "Gate", "Purpose", "Outcome"],
        doc.events.map((e) => [when(e.occurred_at), e.venue, e.gate, e.purpose, e.outcome])
      ),
      table(
        "Who looked at or changed this record",
        ["Time", "By", "Action", "Reason"],
        doc.operator_accesses.map((a) => [when(a.when), a.who, a.action, a.reason || "—"])
      )
    );
  }

  async function people() {
    const errorBox = $("lookup-error");
    const given = new URLSearchParams(window.location.search).get("subject");
    if (given) {
      $("lookup-subject").value = given;
    }
    let current = null;

    async function open(subjectId, reason) {
      const answer = await call(
        "GET",
        `${config.api.subjects}/${subjectId}?reason=${encodeURIComponent(reason)}`
      );
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      current = { id: subjectId, reason };
      renderRecord(answer.data);
      say($("record-title"), `Record of ${answer.data.subject.contact?.email || subjectId}`);
      say($("record-reason"), `Opened for this reason (recorded): ${reason}`);
      $("record").hidden = false;
    }

    $("lookup-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const reason = $("lookup-reason").value.trim();
      if (reason.length < 5) {
        $("lookup-reason").setAttribute("aria-invalid", "true");
        fail(
          errorBox,
          "State the reason for looking at this person's data (at least 5 characters)."
        );
        return;
      }
      $("lookup-reason").removeAttribute("aria-invalid");
      const who = identity($("lookup-code"), $("lookup-subject"));
      if (!who) {
        fail(errorBox, "Give the person's recovery code or their id.");
        return;
      }
      $("record").hidden = true;
      const found = await change(
        $("lookup-form"),
        errorBox,
        "POST",
        `${config.api.subjects}/lookup`,
        { reason, ...who }
      );
      if (!found.ok) {
        return;
      }
      if (found.data.status !== "active") {
        fail(errorBox, "This person's data has been deleted; only a tombstone remains.");
        return;
      }
      await open(found.data.subject_id, reason);
      $("record-title").focus();
    });

    const recordError = $("record-error");
    const recordStatus = $("record-status");
    $("export-button").addEventListener("click", async () => {
      const answer = await change(
        $("record"),
        recordError,
        "POST",
        `${config.api.subjects}/${current.id}/export`,
        {
          reason: current.reason,
        }
      );
      if (answer.ok) {
        say(
          recordStatus,
          `Export downloaded as ${download(answer, "export.json")}. It is recorded in the audit log.`
        );
        recordStatus.focus();
      }
    });
    $("withdraw-button").addEventListener("click", async () => {
      const answer = await change(
        $("record"),
        recordError,
        "POST",
        `${config.api.subjects}/${current.id}/withdraw`,
        {
          reason: current.reason,
        }
      );
      if (answer.ok) {
        await open(current.id, current.reason);
        say(
          recordStatus,
          `${answer.data.withdrawn} consents withdrawn; the gates stop using them within a second.`
        );
        recordStatus.focus();
      }
    });
    function confirmErase(show) {
      $("erase-confirm").hidden = !show;
      $("erase-ask").setAttribute("aria-expanded", String(show));
      (show ? $("erase-question") : $("erase-ask")).focus();
    }
    $("erase-ask").addEventListener("click", () => confirmErase(true));
    $("erase-no").addEventListener("click", () => confirmErase(false));
    $("erase-yes").addEventListener("click", async () => {
      const answer = await change(
        $("record"),
        recordError,
        "POST",
        `${config.api.subjects}/${current.id}/erase`,
        {
          reason: current.reason,
        }
      );
      if (answer.ok) {
        $("record").hidden = true;
        current = null;
        const done = $("lookup-status");
        say(done, "The person's data was deleted: their data key is destroyed.");
        done.focus();
      }
    });
  }

  // --- administrator: operators -------------------------------------------------------------

  function operatorState(op) {
    if (op.disabled_at) {
      return "Disabled";
    }
    if (op.locked_until && new Date(op.locked_until) > new Date()) {
      return el("span", {}, "Locked until ", when(op.locked_until));
    }
    return "Active";
  }

  async function operators() {
    const status = $("operators-status");
    const errorBox = $("operators-error");
    $("op-networks").value = config.defaults.networks.join("\n");
    $("op-hours").value = config.defaults.hours.join("\n");
    let accounts = [];
    const venues = await call("GET", config.api.venues);
    if (venues.ok) {
      $("op-venue").append(
        ...venues.data.map((v) => el("option", { value: v.slug, text: v.name }))
      );
    }
    const venueNames = new Map((venues.ok ? venues.data : []).map((v) => [v.id, v.name]));

    async function loadDevices() {
      const id = $("device-operator").value;
      if (!id) {
        return;
      }
      const answer = await call("GET", `${config.api.operators}/${id}/devices`);
      if (!answer.ok) {
        fail($("device-error"), answer.message);
        return;
      }
      fillTable(
        $("devices"),
        answer.data.map((d) => {
          let action = "—";
          if (d.state !== "revoked" && d.state !== "expired") {
            action = el("button", {
              type: "button",
              class: "secondary small",
              text: `Revoke ${d.label}`,
              "data-device": d.id,
            });
          }
          return deviceRow(d, action);
        })
      );
    }

    function fillAccess() {
      const op = accounts.find((a) => a.id === $("access-operator").value);
      $("access-networks").value = op ? op.networks.join("\n") : "";
      $("access-hours").value = op ? op.hours.join("\n") : "";
    }

    async function load() {
      const answer = await call("GET", config.api.operators);
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      accounts = answer.data;
      fillTable(
        $("operators"),
        accounts.map((op) => {
          const actions = el("div", { class: "actions" });
          const locked = op.locked_until && new Date(op.locked_until) > new Date();
          if (locked) {
            actions.append(
              el("button", {
                type: "button",
                class: "secondary small",
                text: `Unlock ${op.username}`,
                "data-action": "unlock",
                "data-id": op.id,
              })
            );
          }
          if (op.username !== me.username) {
            const action = op.disabled_at ? "enable" : "disable";
            const label = op.disabled_at ? `Enable ${op.username}` : `Disable ${op.username}`;
            actions.append(
              el("button", {
                type: "button",
                class: "secondary small",
                text: label,
                "data-action": action,
                "data-id": op.id,
              })
            );
          }
          return row(
            op.username,
            config.roles[op.role] || op.role,
            op.venue_id ? venueNames.get(op.venue_id) || op.venue_id : "—",
            op.networks.join(", "),
            op.hours.join(", "),
            operatorState(op),
            when(op.last_sign_in_at, "Never"),
            actions
          );
        })
      );
      const chosen = $("access-operator").value;
      $("access-operator").replaceChildren(
        ...accounts.map((op) => el("option", { value: op.id, text: op.username }))
      );
      if (chosen) {
        $("access-operator").value = chosen;
      }
      fillAccess();
      const forDevice = $("device-operator").value;
      $("device-operator").replaceChildren(
        ...accounts.map((op) => el("option", { value: op.id, text: op.username }))
      );
      if (forDevice) {
        $("device-operator").value = forDevice;
      }
      await loadDevices();
    }
    load(); // not awaited: the forms below must work before the list arrives (see venuesView)

    $("device-operator").addEventListener("change", loadDevices);
    $("device-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const formError = $("device-error");
      if (!required($("device-label"), formError, "Please name the device.")) {
        return;
      }
      $("device-link").hidden = true;
      const answer = await change(
        $("device-form"),
        formError,
        "POST",
        `${config.api.operators}/${$("device-operator").value}/devices`,
        { label: $("device-label").value.trim() }
      );
      if (!answer.ok) {
        return;
      }
      say($("device-link-username"), answer.data.username);
      $("device-link-expires").replaceChildren(when(answer.data.registration_expires_at));
      say($("device-link-url"), answer.data.url);
      $("device-label").value = "";
      await loadDevices();
      $("device-link").hidden = false;
      $("device-link-title").focus();
    });
    $("devices").addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-device]");
      if (!button) {
        return;
      }
      const answer = await change(
        $("devices"),
        $("device-error"),
        "POST",
        `${config.api.devices}/${button.dataset.device}/revoke`
      );
      if (answer.ok) {
        await loadDevices();
        say(status, `Device "${answer.data.label}" revoked; its sessions were signed out.`);
        status.focus();
      }
    });

    $("operators").addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) {
        return;
      }
      say(status, "");
      const answer = await change(
        $("operators"),
        errorBox,
        "POST",
        `${config.api.operators}/${button.dataset.id}/${button.dataset.action}`,
        {}
      );
      if (answer.ok) {
        await load();
        const done = { unlock: "unlocked", enable: "enabled", disable: "disabled" }[
          button.dataset.action
        ];
        say(status, `${answer.data.username} ${done}.`);
        status.focus();
      }
    });

    $("operator-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = $("operator-form");
      const formError = $("operator-error");
      if (
        !required($("op-username"), formError, "Please enter a user name.") ||
        !required($("op-password"), formError, "Please enter a password.")
      ) {
        return;
      }
      const role = $("op-role").value;
      const body = {
        username: $("op-username").value.trim(),
        password: $("op-password").value,
        role,
        venue: role === "venue_staff" ? $("op-venue").value || null : null,
        networks: lines($("op-networks").value),
        hours: lines($("op-hours").value),
      };
      $("operator-created").hidden = true;
      const answer = await change(form, formError, "POST", config.api.operators, body);
      if (!answer.ok) {
        return;
      }
      say($("created-username"), answer.data.username);
      say($("created-secret"), answer.data.totp_secret);
      say($("created-uri"), answer.data.totp_uri);
      $("op-username").value = "";
      $("op-password").value = "";
      $("device-operator").replaceChildren(el("option", { value: answer.data.id }));
      $("device-operator").value = answer.data.id;
      await load();
      $("operator-created").hidden = false;
      $("operator-created-title").focus();
    });

    $("access-operator").addEventListener("change", fillAccess);
    $("access-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = $("access-operator").value;
      const answer = await change(
        $("access-form"),
        $("access-error"),
        "PATCH",
        `${config.api.operators}/${id}/access`,
        {
          networks: lines($("access-networks").value),
          hours: lines($("access-hours").value),
        }
      );
      if (answer.ok) {
        await load();
        say(status, `Access rules of ${answer.data.username} saved.`);
        status.focus();
      }
    });
  }

  // --- administrator and venue staff: gates -------------------------------------------------

  function gateRows(gates) {
    return gates.map((g) =>
      row(
        g.name,
        when(g.last_contact_at, "Never"),
        g.revoked_at ? el("span", {}, "Revoked ", when(g.revoked_at)) : "Active",
        g.revoked_at
          ? "—"
          : el("button", {
              type: "button",
              class: "secondary small",
              text: `Revoke ${g.name}`,
              "data-gate": g.id,
            })
      )
    );
  }

  function revokeOnClick(table, errorBox, status, reload) {
    table.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-gate]");
      if (!button) {
        return;
      }
      say(status, "");
      const answer = await change(
        table,
        errorBox,
        "POST",
        `${config.api.gates}/${button.dataset.gate}/revoke`,
        {}
      );
      if (answer.ok) {
        await reload();
        say(status, `Gate ${answer.data.name} revoked: its token no longer works.`);
        status.focus();
      }
    });
  }

  async function venuesView() {
    const errorBox = $("venues-error");
    const gatesError = $("gates-error");
    const gatesStatus = $("gates-status");

    async function loadGates() {
      const slug = $("gates-venue").value;
      if (!slug) {
        fillTable($("gates"), []);
        return;
      }
      const answer = await call("GET", `${config.api.venues}/${encodeURIComponent(slug)}/gates`);
      if (answer.ok) {
        fillTable($("gates"), gateRows(answer.data));
      } else {
        fail(gatesError, answer.message);
      }
    }

    async function loadVenues() {
      const answer = await call("GET", config.api.venues);
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      fillTable(
        $("venues"),
        answer.data.map((v) => row(v.name, el("code", { text: v.slug }), v.timezone))
      );
      const chosen = $("gates-venue").value;
      $("gates-venue").replaceChildren(
        ...answer.data.map((v) => el("option", { value: v.slug, text: v.name }))
      );
      if (chosen) {
        $("gates-venue").value = chosen;
      }
      await loadGates();
    }
    // Not awaited: the listeners below must be attached before the lists arrive, or a form sent
    // meanwhile falls back to a native submit that reloads the page and drops what was typed.
    loadVenues();

    $("gates-venue").addEventListener("change", () => {
      $("gate-token").hidden = true;
      loadGates();
    });
    revokeOnClick($("gates"), gatesError, gatesStatus, loadGates);

    $("venue-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const formError = $("venue-error");
      if (
        !required($("venue-slug"), formError, "Please enter a short name.") ||
        !required($("venue-name"), formError, "Please enter the venue's name.")
      ) {
        return;
      }
      const answer = await change($("venue-form"), formError, "POST", config.api.venues, {
        slug: $("venue-slug").value.trim(),
        name: $("venue-name").value.trim(),
        timezone: $("venue-timezone").value.trim() || "Asia/Tokyo",
      });
      if (answer.ok) {
        $("venue-slug").value = "";
        $("venue-name").value = "";
        await loadVenues();
        say(gatesStatus, `Venue ${answer.data.name} added.`);
      }
    });

    $("gate-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const formError = $("gate-error");
      if (
        !required($("gate-name"), formError, "Please name the gate, for example Main entrance.")
      ) {
        return;
      }
      $("gate-token").hidden = true;
      const slug = $("gates-venue").value;
      const answer = await change(
        $("gate-form"),
        formError,
        "POST",
        `${config.api.venues}/${encodeURIComponent(slug)}/gates`,
        {
          name: $("gate-name").value.trim(),
        }
      );
      if (answer.ok) {
        $("gate-name").value = "";
        say($("gate-token-name"), answer.data.name);
        say($("gate-token-value"), answer.data.token);
        await loadGates();
        $("gate-token").hidden = false;
        $("gate-token-title").focus();
      }
    });
  }

  async function venueStaff() {
    const errorBox = $("venue-error");
    const venues = await call("GET", config.api.venues);
    if (!venues.ok || !venues.data.length) {
      fail(errorBox, venues.ok ? "Your account has no venue." : venues.message);
      return;
    }
    const venue = venues.data[0];
    say($("venue-name"), `${venue.name} (${venue.slug})`);
    const base = `${config.api.venues}/${encodeURIComponent(venue.slug)}`;

    async function loadGates() {
      const answer = await call("GET", `${base}/gates`);
      if (answer.ok) {
        fillTable($("gates"), gateRows(answer.data));
      } else {
        fail(errorBox, answer.message);
      }
    }
    await loadGates();
    revokeOnClick($("gates"), errorBox, $("gates-status"), loadGates);

    // Per clock hour, never the minute; kinds of decision rarer than the statistics'
    // threshold in an hour are only said to be withheld.
    const events = await call("GET", `${base}/events`);
    if (!events.ok) {
      fail(errorBox, events.message);
      return;
    }
    const outcome = (value) => value.replace(/_/g, " ");
    const hourCell = (iso) => el("span", {}, "Hour from ", when(iso));
    fillTable(
      $("events"),
      events.data.hours.flatMap((h) => [
        ...h.decisions.map((d) =>
          row(
            hourCell(h.hour),
            d.gate,
            PURPOSES[d.purpose] || d.purpose,
            `${outcome(d.outcome)} × ${d.count}`
          )
        ),
        ...h.withheld.map((w) =>
          row(
            hourCell(h.hour),
            "—",
            PURPOSES[w.purpose] || w.purpose,
            `${outcome(w.outcome)}: fewer than ${events.data.min_count}, withheld`
          )
        ),
      ])
    );
    $("events-empty").hidden = events.data.hours.length > 0;
  }

  // --- administrator: notices ---------------------------------------------------------------

  async function notices() {
    const errorBox = $("notice-error");
    const venues = await call("GET", config.api.venues);
    if (venues.ok) {
      $("notice-venues").append(
        ...venues.data.map((v) =>
          el(
            "div",
            { class: "choice" },
            el("input", {
              type: "checkbox",
              id: `venue-${v.slug}`,
              name: "venue",
              value: v.slug,
              checked: true,
            }),
            el("label", { htmlFor: `venue-${v.slug}`, text: v.name })
          )
        )
      );
    }

    async function load() {
      const answer = await call("GET", config.api.notices);
      if (!answer.ok) {
        fail($("notices-error"), answer.message);
        return;
      }
      const names = (list) => (list.length ? list.map((p) => PURPOSES[p] || p).join(", ") : "—");
      fillTable(
        $("notices"),
        answer.data.map((n) =>
          row(
            String(n.version),
            names(n.purposes),
            names(n.changed_purposes),
            when(n.published_at),
            when(n.effective_at),
            n.in_effect ? "In effect" : "Announced"
          )
        )
      );
    }
    load(); // not awaited: see venuesView

    $("notice-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const checked = (name) =>
        Array.from(document.querySelectorAll(`input[name='${name}']:checked`)).map((i) => i.value);
      const body = {
        venues: checked("venue"),
        purposes: checked("purpose"),
        changed_purposes: checked("changed"),
      };
      if (!body.venues.length || !body.purposes.length) {
        fail(errorBox, "Choose at least one venue and one purpose.");
        return;
      }
      const effective = $("notice-effective").value;
      if (effective) {
        body.effective_at = new Date(effective).toISOString();
      }
      say($("notice-status"), "");
      const answer = await change($("notice-form"), errorBox, "POST", config.api.notices, body);
      if (answer.ok) {
        await load();
        say(
          $("notice-status"),
          `Version ${answer.data.version} published; it takes effect ${moment.format(new Date(answer.data.effective_at))}.`
        );
        $("notice-status").focus();
      }
    });
  }

  // --- auditor: the audit log ---------------------------------------------------------------

  async function auditLog() {
    const errorBox = $("audit-error");
    const more = $("audit-more");
    const PAGE = 100;
    let oldest = null;

    async function load() {
      const query = oldest === null ? `?limit=${PAGE}` : `?limit=${PAGE}&before_seq=${oldest}`;
      const answer = await call("GET", config.api.audit + query);
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      const body = $("audit").tBodies[0];
      for (const e of answer.data) {
        body.append(
          row(
            String(e.seq),
            when(e.occurred_at),
            e.actor_id ? `${e.actor_kind} ${e.actor_id}` : e.actor_kind,
            e.action,
            e.subject_ref ? el("code", { text: e.subject_ref }) : "—",
            e.reason || "—",
            el("td", { class: "details" }, el("code", { text: JSON.stringify(e.details || {}) })),
            el("code", { text: e.entry_hash.slice(0, 12) + "…", title: e.entry_hash })
          )
        );
        oldest = e.seq;
      }
      more.hidden = answer.data.length < PAGE;
    }
    load(); // not awaited: see venuesView
    more.addEventListener("click", load);

    $("verify-chain").addEventListener("click", async () => {
      const result = $("chain-result");
      say(result, "Checking…");
      const answer = await change(
        $("verify-chain").parentElement,
        result,
        "GET",
        config.api.auditVerify
      );
      if (answer.ok) {
        const where =
          answer.data.ok || answer.data.seq === null
            ? ""
            : ` First bad entry: no. ${answer.data.seq}.`;
        say(result, sentence(answer.data.summary) + where);
        result.dataset.ok = String(answer.data.ok);
        result.focus();
      }
    });
  }

  // --- administrators and auditors: console sessions ---------------------------------------

  async function sessions() {
    const errorBox = $("sessions-error");
    const status = $("sessions-status");
    const mayEnd = me.permissions.includes("manage_operators");
    const body = $("sessions").tBodies[0];

    async function load() {
      const answer = await call("GET", config.api.sessions);
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      body.replaceChildren();
      for (const s of answer.data) {
        const state = s.open
          ? s.current
            ? "Open (this session)"
            : el("span", {}, "Open, ends ", when(s.expires_at))
          : `Ended: ${(s.end_reason || "").replaceAll("_", " ")}`;
        let action = "—";
        if (s.open && !s.current && mayEnd) {
          action = el("button", { type: "button", class: "secondary" }, `End ${s.username}'s session`);
          action.addEventListener("click", async () => {
            const ended = await change(action.parentElement, errorBox, "POST", `${config.api.sessions}${s.id}/end`);
            if (ended.ok) {
              say(status, `${s.username}'s session was ended.`);
              await load();
              status.focus();
            }
          });
        }
        body.append(
          row(
            s.username,
            config.roles[s.role] || s.role,
            `${s.client_address || "unknown address"}, ${s.user_agent || "unknown browser"}`,
            when(s.signed_in_at),
            `${Math.round(s.elapsed_minutes)} min`,
            state,
            action
          )
        );
      }
    }
    await load();
  }

  // --- administrators and venue staff: venue statistics -------------------------------------

  function money(minor, currency) {
    const format = new Intl.NumberFormat("en-GB", { style: "currency", currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(minor / 10 ** digits);
  }

  /* "2026-03-10T09:00:00+09:00" -> "2026-03-10 09:00", with the UTC offset when it differs
     from the first row's (the repeated hour when daylight saving time ends). */
  function periodText(period, firstOffset) {
    if (period.length === 10) {
      return period;
    }
    const offset = period.slice(19);
    const text = `${period.slice(0, 10)} ${period.slice(11, 16)}`;
    return offset === firstOffset ? text : `${text} (UTC${offset})`;
  }

  function withheld(cell, text) {
    return cell.suppressed ? el("em", { text: "Withheld" }) : text;
  }

  function statisticsRows(rows, cells) {
    const firstOffset = rows.length ? rows[0].period.slice(19) : "";
    return rows.map((r) => {
      const period = el("th", { scope: "row" }, periodText(r.period, firstOffset));
      const tr = row(...cells(r));
      tr.prepend(period);
      return tr;
    });
  }

  async function statistics() {
    const errorBox = $("stats-error");
    const venues = await call("GET", config.api.venues);
    if (!venues.ok || !venues.data.length) {
      fail(errorBox, venues.ok ? "There is no venue to show." : venues.message);
      return;
    }
    $("stats-venue").replaceChildren(
      ...venues.data.map((v) => el("option", { value: v.slug, text: v.name }))
    );

    function render(stats) {
      $("stats-from").value = stats.from;
      $("stats-to").value = stats.to;
      const venue = venues.data.find((v) => v.slug === stats.venue);
      say(
        $("stats-summary"),
        `${venue ? venue.name : stats.venue}, ${stats.from} to ${stats.to}, per ${stats.by}, ` +
          `times in ${stats.timezone}. Counts below ${stats.min_count} are withheld.`
      );
      const entries = stats.entries;
      fillTable($("entries"), statisticsRows(entries.rows, (r) => [withheld(r, String(r.count))]));
      $("entries").tFoot.replaceChildren(
        el(
          "tr",
          {},
          el("th", { scope: "row", text: "Total" }),
          el("td", {}, withheld(entries.total, String(entries.total.count)))
        )
      );
      $("payments").replaceChildren(
        ...stats.payments.map((p) => {
          const caption = `Payments in ${p.currency}`;
          const tableEl = el(
            "table",
            { class: "data" },
            el("caption", { text: caption }),
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ...["Period", "Payments", "Amount"].map((h) => el("th", { scope: "col", text: h }))
              )
            ),
            el(
              "tbody",
              {},
              ...statisticsRows(p.rows, (r) => [
                withheld(r, String(r.count)),
                withheld(r, money(r.sum_minor, p.currency)),
              ])
            ),
            el(
              "tfoot",
              {},
              el(
                "tr",
                {},
                el("th", { scope: "row", text: "Total" }),
                el("td", {}, withheld(p.total, String(p.total.count))),
                el("td", {}, withheld(p.total, money(p.total.sum_minor || 0, p.currency)))
              )
            )
          );
          return el(
            "div",
            { class: "table-wrap", role: "region", tabIndex: 0, "aria-label": caption },
            tableEl
          );
        })
      );
    }

    async function load(query) {
      const slug = encodeURIComponent($("stats-venue").value);
      const answer = await change(
        $("stats-form"),
        errorBox,
        "GET",
        `${config.api.venues}/${slug}/statistics?${new URLSearchParams(query)}`
      );
      if (answer.ok) {
        render(answer.data);
      }
      return answer;
    }

    await load({ by: "day" });
    $("stats-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const query = { by: document.querySelector("input[name='stats-by']:checked").value };
      if ($("stats-from").value) {
        query.from = $("stats-from").value;
      }
      if ($("stats-to").value) {
        query.to = $("stats-to").value;
      }
      if ((await load(query)).ok) {
        $("stats-summary").focus();
      }
    });
  }

  // --- administrators: third-party recipients -----------------------------------------------

  function itemNames(items) {
    return items.map((i) => config.providable[i] || i).join("; ");
  }

  async function recipientsView() {
    const errorBox = $("recipients-error");
    const status = $("recipients-status");
    $("recipient-items").append(
      ...Object.entries(config.providable).map(([name, what], i) =>
        el(
          "div",
          { class: "choice" },
          el("input", { type: "checkbox", id: `item-${i}`, name: "item", value: name }),
          el("label", { htmlFor: `item-${i}`, text: what })
        )
      )
    );

    async function load() {
      const answer = await call("GET", config.api.recipients);
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      fillTable(
        $("recipients"),
        answer.data.map((r) => {
          let action = "—";
          if (!r.retired_at) {
            action = el("button", { type: "button", class: "secondary small" }, `Retire ${r.name}`);
            action.addEventListener("click", async () => {
              say(status, "");
              const retired = await change(
                $("recipients"),
                errorBox,
                "POST",
                `${config.api.recipients}/${r.id}/retire`,
                {}
              );
              if (retired.ok) {
                await load();
                say(status, `${r.name} is retired: it receives nothing more.`);
                status.focus();
              }
            });
          }
          return row(
            r.name,
            r.purpose,
            itemNames(r.items),
            r.contact,
            r.retired_at ? el("span", {}, "Retired ", when(r.retired_at)) : "Active",
            action
          );
        })
      );
      $("recipients-empty").hidden = answer.data.length > 0;
    }
    load(); // not awaited: see venuesView

    $("recipient-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const formError = $("recipient-error");
      if (
        !required($("recipient-name"), formError, "Please enter the recipient's name.") ||
        !required(
          $("recipient-purpose"),
          formError,
          "Please say what the recipient does with the data."
        ) ||
        !required($("recipient-contact"), formError, "Please enter the recipient's address.")
      ) {
        return;
      }
      const items = Array.from(document.querySelectorAll("input[name='item']:checked")).map(
        (i) => i.value
      );
      if (!items.length) {
        fail(formError, "Choose at least one item the recipient receives.");
        return;
      }
      say(status, "");
      const answer = await change($("recipient-form"), formError, "POST", config.api.recipients, {
        name: $("recipient-name").value.trim(),
        purpose: $("recipient-purpose").value.trim(),
        contact: $("recipient-contact").value.trim(),
        items,
      });
      if (answer.ok) {
        $("recipient-form").reset();
        await load();
        say(status, `${answer.data.name} registered. People can now agree to it in their portal.`);
        status.focus();
      }
    });
  }

  // --- privacy officers: third-party provision and law-enforcement release ------------------

  const PERSON_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  /* POST a change whose answer is a file, and save the server's exact bytes: the provision is
     recorded with their SHA-256, so the file must not be re-serialised. */
  async function saveFile(scope, errorBox, url, body) {
    const buttons = Array.from(scope.querySelectorAll("button"));
    for (const button of buttons) {
      button.disabled = true;
    }
    say(errorBox, "");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      let response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            Accept: "application/json",
            "Accept-Language": "en",
            "Content-Type": "application/json",
            "X-CSRF-Token": csrfToken(),
          },
          body: JSON.stringify(body),
          credentials: "same-origin",
          cache: "no-store",
          signal: controller.signal,
        });
      } catch (_) {
        fail(errorBox, "The server could not be reached. Nothing was given; please try again.");
        return null;
      }
      if (!response.ok) {
        let problem = {};
        try {
          problem = await response.json();
        } catch (_) {
          problem = {};
        }
        const message = problemText(problem);
        if (response.status === 401) {
          signedOut(message);
        } else {
          fail(errorBox, message);
        }
        return null;
      }
      const blob = await response.blob();
      const disposition = response.headers.get("content-disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const name = match ? match[1] : "provision.json";
      const link = el("a", { href: URL.createObjectURL(blob), download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      return name;
    } finally {
      clearTimeout(timer);
      for (const button of buttons) {
        button.disabled = false;
      }
    }
  }

  function personId(field, errorBox) {
    const value = field.value.trim();
    if (PERSON_ID.test(value)) {
      field.removeAttribute("aria-invalid");
      return value;
    }
    field.setAttribute("aria-invalid", "true");
    fail(errorBox, "Enter the person's id as printed on their receipt (36 characters).");
    return null;
  }

  async function provisionsView() {
    const listError = $("provisions-error");

    async function load() {
      const answer = await call("GET", config.api.provisions);
      if (!answer.ok) {
        fail(listError, answer.message);
        return null;
      }
      fillTable(
        $("provisions"),
        answer.data.map((p) =>
          row(
            when(p.provided_at),
            el("code", { text: p.subject_id }),
            p.recipient,
            p.basis === "law_enforcement"
              ? `Law enforcement: ${p.basis_reference}`
              : "The person's consent",
            itemNames(p.items),
            p.provided_by || "—",
            el("code", { text: p.sha256.slice(0, 12) + "…", title: p.sha256 })
          )
        )
      );
      $("provisions-empty").hidden = answer.data.length > 0;
      return answer.data;
    }

    const [recipients, venues] = await Promise.all([
      call("GET", config.api.publicRecipients),
      call("GET", config.api.publicVenues),
    ]);
    if (recipients.ok) {
      $("provide-recipient").replaceChildren(
        ...recipients.data.map((r) => el("option", { value: r.id, text: r.name }))
      );
    }
    if (venues.ok) {
      $("release-venue").replaceChildren(
        ...venues.data.map((v) => el("option", { value: v.slug, text: v.name }))
      );
    }
    load(); // not awaited: see venuesView

    async function handedOver(statusBox, name) {
      const listed = await load();
      const hash = listed && listed.length ? ` SHA-256 ${listed[0].sha256}.` : "";
      say(statusBox, `Downloaded as ${name}; recorded and shown to the person.${hash}`);
      statusBox.focus();
    }

    $("provide-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const errorBox = $("provide-error");
      say($("provide-status"), "");
      const subject = personId($("provide-subject"), errorBox);
      if (!subject) {
        return;
      }
      if (!$("provide-recipient").value) {
        fail(errorBox, "There is no recipient to provide to; an administrator registers them.");
        return;
      }
      const name = await saveFile(
        $("provide-form"),
        errorBox,
        `${config.api.subjects}/${subject}/provisions`,
        { recipient_id: $("provide-recipient").value }
      );
      if (name) {
        await handedOver($("provide-status"), name);
      }
    });

    $("release-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const errorBox = $("release-error");
      say($("release-status"), "");
      const subject = personId($("release-subject"), errorBox);
      if (
        !subject ||
        !required($("release-authority"), errorBox, "Name the authority the data goes to.") ||
        !required(
          $("release-basis"),
          errorBox,
          "A release needs the legal basis reference: the warrant or inquiry number."
        ) ||
        !required($("release-from"), errorBox, "Give the first day of the period.") ||
        !required($("release-to"), errorBox, "Give the last day of the period.")
      ) {
        return;
      }
      const name = await saveFile(
        $("release-form"),
        errorBox,
        `${config.api.subjects}/${subject}/law-enforcement-release`,
        {
          authority: $("release-authority").value.trim(),
          basis_reference: $("release-basis").value.trim(),
          venue: $("release-venue").value,
          from: $("release-from").value,
          to: $("release-to").value,
          named_items: Array.from(document.querySelectorAll("input[name='named']:checked")).map(
            (i) => i.value
          ),
        }
      );
      if (name) {
        await handedOver($("release-status"), name);
      }
    });
  }

  // --- every operator: their own registered devices --------------------------------------

  async function ownDevices() {
    const status = $("devices-status");
    const errorBox = $("devices-error");

    async function load() {
      const answer = await call("GET", config.api.devices);
      if (!answer.ok) {
        fail(errorBox, answer.message);
        return;
      }
      fillTable(
        $("devices"),
        answer.data.map((d) => {
          let action = "—";
          if (d.state === "registered" || d.state === "pending") {
            action = el("button", { type: "button", class: "secondary small" }, `Revoke ${d.label}`);
            action.addEventListener("click", async () => {
              const revoked = await change($("devices"), errorBox, "POST", `${config.api.devices}/${d.id}/revoke`);
              if (revoked.ok) {
                // Revoking the device this session runs on signs it out (the next call says so).
                say(status, `Device "${d.label}" revoked; sessions opened on it were signed out.`);
                await load();
                status.focus();
              }
            });
          }
          return deviceRow(d, action);
        })
      );
    }
    await load();
  }

  const VIEWS = {
    devices: ownDevices,
    sessions,
    requests: inbox,
    request: requestView,
    "new-request": newRequest,
    people,
    operators,
    venues: venuesView,
    notices,
    venue: venueStaff,
    audit: auditLog,
    statistics,
    recipients: recipientsView,
    provisions: provisionsView,
  };

  if (config.device) {
    initDevice();
  } else if (config.view === "sign-in") {
    initSignIn();
  } else {
    initView();
  }
})();
