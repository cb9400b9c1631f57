/* Self-service portal: sign in (mailed link or recovery code), then withdraw, renew a consent
 * a change of purpose set aside, agree to or withdraw provision to a named third party, shorten
 * the retention, file requests, keep a card and a PIN for payment by face, delete everything
 * and sign out.
 *
 * Card details go from here straight to the payment company's tokenising endpoint
 * (config.payments.tokens, another origin): never to this site. Only the token that comes back
 * is posted to our API.
 *
 * Plain JavaScript, no build step, no inline script: the page hands over its translated strings
 * and paths in a JSON block (#portal-config). The server renders everything the person sees and
 * decides everything; this script sends the changes to the JSON API with the CSRF token (read
 * from the optin_csrf cookie), shows what the server says (the problem's translated `detail`),
 * and offers signed receipts as downloads. After a change the disclosure part of the page is
 * fetched again, so what is shown is always what the server holds.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("portal-config").textContent);
  const $ = (id) => document.getElementById(id);
  const TIMEOUT_MS = 30000;
  let busy = false;
  let receiptUrl = null;

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

  function format(template, params) {
    return template.replace(/%\((\w+)\)s/g, (_, name) => String(params[name] ?? ""));
  }

  function csrfToken() {
    for (const part of document.cookie.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === "optin_csrf") {
        return decodeURIComponent(rest.join("="));
      }
    }
    return "";
  }

  async function post(url, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      return await fetch(url, {
        method: "POST",
        body: JSON.stringify(body || {}),
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          // Problems come back in the page's language, whatever the browser's settings.
          "Accept-Language": config.lang,
          "X-CSRF-Token": csrfToken(),
        },
        credentials: "same-origin",
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async function problemOf(response) {
    try {
      const problem = await response.json();
      return { status: response.status, detail: problem.detail || config.messages.error };
    } catch (_) {
      return { status: response.status, detail: config.messages.error };
    }
  }

  /* Runs one change at a time; buttons are disabled meanwhile. Returns the JSON answer, or
     null after showing the problem in `errorBox`. */
  async function change(url, body, errorBox, explain) {
    if (busy) {
      return null;
    }
    busy = true;
    say(errorBox, "");
    const buttons = Array.from(document.querySelectorAll("button"));
    for (const button of buttons) {
      button.disabled = true;
    }
    document.body.setAttribute("aria-busy", "true");
    try {
      const response = await post(url, body);
      if (!response.ok) {
        const problem = await problemOf(response);
        const explained = explain ? explain(problem) : null;
        fail(errorBox, explained || problem.detail);
        return null;
      }
      return await response.json();
    } catch (_) {
      fail(errorBox, config.messages.error);
      return null;
    } finally {
      for (const button of buttons) {
        button.disabled = false;
      }
      document.body.removeAttribute("aria-busy");
      busy = false;
    }
  }

  function receiptLink(link, receipt, filename) {
    if (receiptUrl) {
      URL.revokeObjectURL(receiptUrl);
    }
    const blob = new Blob([JSON.stringify(receipt, null, 2) + "\n"], { type: "application/json" });
    receiptUrl = URL.createObjectURL(blob);
    link.href = receiptUrl;
    link.download = filename;
  }

  // --- sign-in page -----------------------------------------------------------------------

  async function signIn(body, errorBox, explain) {
    say($("sign-in-status"), config.messages["signing-in"]);
    const signedIn = await change(config.api.signIn, body, errorBox, explain);
    if (signedIn) {
      // replace(): the page with the one-time token does not stay in the history.
      window.location.replace(config.pages.portal);
    } else {
      say($("sign-in-status"), "");
    }
  }

  const linkForm = $("link-form");
  if (linkForm) {
    linkForm.addEventListener("submit", (event) => {
      event.preventDefault();
      signIn({ token: linkForm.elements.token.value }, $("link-error"), (problem) =>
        problem.status === 401 ? config.messages["link-used"] : null
      );
    });
  }

  const recoveryForm = $("recovery-form");
  if (recoveryForm) {
    recoveryForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const field = $("recovery-code");
      const code = field.value.trim();
      if (!code) {
        field.setAttribute("aria-invalid", "true");
        fail($("recovery-error"), config.messages["code-missing"]);
        return;
      }
      field.removeAttribute("aria-invalid");
      signIn({ recovery_code: code }, $("recovery-error"), (problem) => {
        if (problem.status === 401) {
          field.setAttribute("aria-invalid", "true");
          return config.messages["code-wrong"];
        }
        return null;
      });
    });
  }

  // --- portal page ------------------------------------------------------------------------

  const content = $("portal-content");
  if (!content || !$("disclosure")) {
    return;
  }

  /* Fetch the page again and swap in its disclosure part (consents, dates, requests...). */
  async function refresh() {
    try {
      const response = await fetch(window.location.pathname, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store",
      });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("disclosure");
      if (!fresh) {
        window.location.assign(config.pages.portal); // the session ended meanwhile
        return;
      }
      $("disclosure").replaceWith(document.adoptNode(fresh));
    } catch (_) {
      // The change itself succeeded; the page shows it after a reload.
    }
  }

  function confirm(text, receipt, filename, linkText, note) {
    const box = $("confirmation-text");
    say(box, text);
    const holder = $("confirmation-receipt");
    if (receipt) {
      const link = $("receipt-link");
      receiptLink(link, receipt, filename);
      say(link, linkText);
      say($("receipt-note"), note);
      holder.hidden = false;
    } else {
      holder.hidden = true;
    }
    box.focus();
  }

  /* The last live consent (or all of them): withdrawing erases the face template, so the
     person reads that and confirms first. ``pendingWithdrawal`` is what they asked to withdraw. */
  let pendingWithdrawal = null;

  function askWithdrawLast(button) {
    pendingWithdrawal = button.dataset.purpose
      ? { purpose: button.dataset.purpose, venue: button.dataset.venue }
      : {};
    $("withdraw-last-confirm").hidden = false;
    $("withdraw-last-question").focus();
  }

  function cancelWithdrawLast() {
    pendingWithdrawal = null;
    $("withdraw-last-confirm").hidden = true;
  }

  async function withdraw(body) {
    const receipt = await change(config.api.withdraw, body, $("consents-error"));
    if (receipt) {
      await refresh();
      confirm(
        config.messages.withdrawn,
        receipt,
        "withdrawal-receipt.json",
        config.messages["withdrawal-receipt"],
        config.messages["withdrawal-receipt-note"]
      );
    }
  }

  /* Renewal needs the person's own tick on the new notice: the box is never pre-ticked, and
     the server is asked only once it is ticked. */
  async function renew(form) {
    const agree = form.elements.agree;
    const errorBox = form.querySelector(".error");
    if (!agree.checked) {
      agree.setAttribute("aria-invalid", "true");
      fail(errorBox, config.messages["renewal-tick"]);
      return;
    }
    agree.removeAttribute("aria-invalid");
    const receipt = await change(
      config.api.renew,
      { purpose: form.dataset.purpose, venue: form.dataset.venue, notice_id: form.dataset.notice },
      errorBox
    );
    if (receipt) {
      await refresh();
      confirm(
        config.messages.renewed,
        receipt,
        "renewal-receipt.json",
        config.messages["renewal-receipt"],
        config.messages["renewal-receipt-note"]
      );
    }
  }

  /* Provision to one named recipient: agreeing needs the person's own tick on that recipient's
     card (never pre-ticked); withdrawing is that card's own button. One recipient per request. */
  async function provisionConsent(recipientId, consent, errorBox) {
    const receipt = await change(
      config.api.provisionConsents,
      { recipient_id: recipientId, consent: consent },
      errorBox
    );
    if (receipt) {
      await refresh();
      confirm(
        config.messages[consent ? "recipient-agreed" : "recipient-withdrawn"],
        receipt,
        consent ? "provision-consent-receipt.json" : "provision-withdrawal-receipt.json",
        config.messages["provision-receipt"],
        config.messages["provision-receipt-note"]
      );
    }
  }

  function agreeToRecipient(form) {
    const agree = form.elements.agree;
    const errorBox = form.querySelector(".error");
    if (!agree.checked) {
      agree.setAttribute("aria-invalid", "true");
      fail(errorBox, config.messages["recipient-tick"]);
      return;
    }
    agree.removeAttribute("aria-invalid");
    provisionConsent(form.dataset.recipient, true, errorBox);
  }

  /* Card details to the payment company (no cookies, no CSRF token, no referrer), then only
     its token to us. */
  async function saveCard() {
    const errorBox = $("card-error");
    const fields = ["card-number", "card-exp-month", "card-exp-year", "card-cvc"].map($);
    const [number, month, year, cvc] = fields;
    let missing = false;
    for (const field of fields) {
      const empty = !field.value.trim();
      missing = missing || empty;
      if (empty) {
        field.setAttribute("aria-invalid", "true");
      } else {
        field.removeAttribute("aria-invalid");
      }
    }
    if (missing) {
      fail(errorBox, config.messages["card-missing"]);
      return;
    }
    const tokens = config.payments && config.payments.tokens;
    if (!tokens || busy) {
      fail(errorBox, tokens ? "" : config.messages.error);
      return;
    }
    say(errorBox, "");
    let token = null;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(tokens, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        referrerPolicy: "no-referrer",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          number: number.value.replace(/[\s-]/g, ""),
          exp_month: month.value.trim(),
          exp_year: year.value.trim(),
          cvc: cvc.value.trim(),
        }),
        signal: controller.signal,
      });
      if (!response.ok) {
        fail(errorBox, config.messages["card-refused"]);
        return;
      }
      token = (await response.json()).token;
    } catch (_) {
      fail(errorBox, config.messages.error);
      return;
    } finally {
      clearTimeout(timer);
    }
    // The provider has the card now: the number and the code need not stay on the page.
    number.value = "";
    cvc.value = "";
    const saved = await change(config.api.paymentMethod, { token: token }, errorBox);
    if (saved) {
      await refresh();
      confirm(format(config.messages["card-saved"], { label: saved.label }));
    }
  }

  async function removeCard() {
    const removed = await change(config.api.removePaymentMethod, {}, $("payment-error"));
    if (removed) {
      await refresh();
      confirm(config.messages["card-removed"]);
    }
  }

  async function savePin() {
    const pin = $("pin-new");
    const again = $("pin-again");
    const errorBox = $("pin-error");
    if (!/^[0-9]{4,6}$/.test(pin.value)) {
      pin.setAttribute("aria-invalid", "true");
      fail(errorBox, config.messages["pin-missing"]);
      return;
    }
    pin.removeAttribute("aria-invalid");
    if (pin.value !== again.value) {
      again.setAttribute("aria-invalid", "true");
      fail(errorBox, config.messages["pin-mismatch"]);
      return;
    }
    again.removeAttribute("aria-invalid");
    const saved = await change(config.api.pin, { pin: pin.value }, errorBox);
    pin.value = "";
    again.value = "";
    if (saved) {
      await refresh();
      confirm(config.messages["pin-saved"]);
    }
  }

  function showDeleteConfirm(open) {
    const ask = document.querySelector("[data-action='delete-ask']");
    $("delete-confirm").hidden = !open;
    ask.setAttribute("aria-expanded", String(open));
    (open ? $("delete-question") : ask).focus();
  }

  async function deleteEverything() {
    const receipt = await change(config.api.delete, {}, $("delete-error"));
    if (!receipt) {
      return;
    }
    // The API has ended the session and cleared its cookies; nothing personal stays on screen.
    content.remove();
    const done = $("deleted");
    receiptLink($("deletion-receipt-link"), receipt, "deletion-receipt.json");
    done.hidden = false;
    document.title = $("deleted-title").textContent + " · optin";
    $("deleted-title").focus();
  }

  async function signOut() {
    const errorBox = $("sign-out-error");
    try {
      const response = await post(config.api.signOut, {});
      // 401: the session had ended already, which is what the person wanted.
      if (response.ok || response.status === 401) {
        window.location.assign(config.pages.signedOut);
        return;
      }
      fail(errorBox, (await problemOf(response)).detail);
    } catch (_) {
      fail(errorBox, config.messages.error);
    }
  }

  function printPage() {
    window.print();
  }

  // Printing shows the notices in full: open every <details> first, close them again after.
  let opened = [];
  window.addEventListener("beforeprint", () => {
    opened = Array.from(document.querySelectorAll("details:not([open])"));
    for (const details of opened) {
      details.open = true;
    }
  });
  window.addEventListener("afterprint", () => {
    for (const details of opened) {
      details.open = false;
    }
    opened = [];
  });

  // Delegated: the disclosure part is replaced after each change.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) {
      return;
    }
    const action = button.dataset.action;
    if (action === "withdraw") {
      withdraw({ purpose: button.dataset.purpose, venue: button.dataset.venue });
    } else if (action === "withdraw-last-ask" || action === "withdraw-all") {
      askWithdrawLast(button);
    } else if (action === "withdraw-last" && pendingWithdrawal) {
      withdraw(pendingWithdrawal);
    } else if (action === "withdraw-last-cancel") {
      cancelWithdrawLast();
    } else if (action === "delete-ask") {
      showDeleteConfirm(true);
    } else if (action === "delete-cancel") {
      showDeleteConfirm(false);
    } else if (action === "delete") {
      deleteEverything();
    } else if (action === "sign-out") {
      signOut();
    } else if (action === "print") {
      printPage();
    } else if (action === "remove-card") {
      removeCard();
    } else if (action === "recipient-withdraw") {
      provisionConsent(button.dataset.recipient, false, $(button.dataset.error));
    }
  });

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (form.classList.contains("renew-form")) {
      event.preventDefault();
      renew(form);
    } else if (form.classList.contains("recipient-form")) {
      event.preventDefault();
      agreeToRecipient(form);
    } else if (form.id === "card-form") {
      event.preventDefault();
      saveCard();
    } else if (form.id === "pin-form") {
      event.preventDefault();
      savePin();
    } else if (form.id === "retention-form") {
      event.preventDefault();
      const field = $("retention-until");
      if (!field.value) {
        field.setAttribute("aria-invalid", "true");
        fail($("retention-error"), config.messages["date-missing"]);
        return;
      }
      field.removeAttribute("aria-invalid");
      const moved = await change(
        config.api.retention,
        { retention_until: field.value },
        $("retention-error")
      );
      if (moved) {
        await refresh();
        confirm(config.messages["retention-changed"]);
      }
    } else if (form.id === "request-form") {
      event.preventDefault();
      const details = $("request-details");
      if (!details.value.trim()) {
        details.setAttribute("aria-invalid", "true");
        fail($("request-error"), config.messages["request-missing"]);
        return;
      }
      details.removeAttribute("aria-invalid");
      const filed = await change(
        config.api.requests,
        { kind: $("request-kind").value, details: details.value },
        $("request-error")
      );
      if (filed) {
        const due = new Intl.DateTimeFormat(config.htmlLang, { dateStyle: "long" }).format(
          new Date(filed.due_at)
        );
        await refresh();
        confirm(format(config.messages["request-filed"], { date: due }));
      }
    }
  });
})();
