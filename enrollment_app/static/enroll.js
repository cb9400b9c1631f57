/* Enrollment page: notice and consent form -> selfie check (or a photo upload) -> done.
 *
 * Plain JavaScript, no build step, no inline script: the page hands over its translated strings
 * and API paths in a JSON block (#enroll-config). The server decides everything; this script
 * only collects the form, runs the camera and shows what the server says (the problem's
 * translated `detail`). Camera frames and photos stay in memory and go to the server once.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("enroll-config").textContent);
  const $ = (id) => document.getElementById(id);

  // Only these form fields are sent: the API refuses any other (no loyalty IDs and the like).
  const FIELDS = ["notice_id", "locale", "email", "purposes", "venues", "trip_end"];
  // Problems about what was entered in step 1 send the person back there, entries kept.
  const FORM_CODES = new Set(["consent-required", "unknown-venue", "notice-outdated", "not-found"]);
  const FORM_REASONS = new Set(["invalid-email", "invalid-trip-dates", "notice", "locale"]);

  const LOOK_MIN_MS = 1500; // look straight at least this long before the turn starts
  const LOOK_MAX_MS = 30000; // then give up and switch the camera off
  const HINT_EVERY_MS = 700;
  const HINT_MAX_SIDE = 480;
  const FRAME_MAX_SIDE = 1280;
  const CAMERA_TIMEOUT_MS = 60000; // the browser's permission prompt waits for the person
  const VIDEO_TIMEOUT_MS = 10000;
  const HINT_TIMEOUT_MS = 10000;
  const SUBMIT_TIMEOUT_MS = 90000;

  const form = $("enroll-form");
  const steps = { form: $("step-form"), camera: $("step-camera"), done: $("step-done") };
  const video = $("preview");
  const startButton = $("start-check");
  const status = $("camera-status");

  let challenge = null; // { token, action, frames, interval, staleAt }
  let stream = null;
  let busy = false;

  // --- helpers ----------------------------------------------------------------------------

  function say(element, text) {
    element.textContent = text || "";
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  }

  function withTimeout(promise, ms) {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), ms);
    });
    return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
  }

  async function post(url, body, timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      return await fetch(url, {
        method: "POST",
        body: body,
        // Problems come back in the page's language, whatever the browser's settings.
        headers: { Accept: "application/json", "Accept-Language": config.lang },
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
      return {
        code: String(problem.type || "").split("/").pop(),
        reason: problem.reason || null,
        detail: problem.detail || config.errors.generic,
      };
    } catch (_) {
      return { code: "error", reason: null, detail: config.errors.generic };
    }
  }

  function show(name, focus) {
    for (const [key, section] of Object.entries(steps)) {
      section.hidden = key !== name;
    }
    // Move focus with the step so keyboard and screen-reader users land on it.
    (focus || steps[name].querySelector("h2")).focus();
  }

  function setBusy(flag) {
    busy = flag;
    for (const button of document.querySelectorAll("#step-camera button")) {
      button.disabled = flag;
    }
    steps.camera.setAttribute("aria-busy", String(flag));
  }

  // --- step 1: notice and consent ---------------------------------------------------------

  function clearInvalid() {
    for (const field of form.querySelectorAll("[aria-invalid]")) {
      field.removeAttribute("aria-invalid");
    }
  }

  function markInvalid(fields) {
    for (const field of fields) {
      field.setAttribute("aria-invalid", "true");
    }
  }

  /* The same checks the server makes first, with its own messages, so nobody goes through the
     camera only to learn that a box was left unticked. The server still checks everything. */
  function firstProblem() {
    for (const [name, key] of [
      ["purposes", "no-purpose"],
      ["venues", "no-venue"],
    ]) {
      const boxes = Array.from(form.querySelectorAll(`input[name="${name}"]`));
      if (!boxes.some((box) => box.checked)) return { key: key, fields: boxes };
    }
    const email = $("email");
    if (!email.value.trim() || !email.validity.valid) return { key: "invalid-email", fields: [email] };
    const tripEnd = $("trip-end");
    if (!tripEnd.value || !tripEnd.validity.valid) {
      return { key: "invalid-trip-dates", fields: [tripEnd] };
    }
    return null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearInvalid();
    const problem = firstProblem();
    if (problem) {
      const errorBox = $("form-error");
      say(errorBox, config.errors[problem.key]);
      markInvalid(problem.fields);
      // The message sits at the top of the form, above the fields it is about: show both.
      errorBox.scrollIntoView({ block: "start" });
      problem.fields[0].focus({ preventScroll: true });
      return;
    }
    say($("form-error"), "");
    show("camera");
    if (!challenge || Date.now() > challenge.staleAt) await newChallenge();
  });

  $("back-to-form").addEventListener("click", () => {
    stopCamera();
    show("form");
  });

  // --- step 2: the selfie check -----------------------------------------------------------

  async function newChallenge() {
    challenge = null;
    try {
      const response = await post(config.api.challenges, null, HINT_TIMEOUT_MS);
      if (!response.ok) throw await problemOf(response);
      const issued = await response.json();
      challenge = {
        token: issued.challenge,
        action: issued.action,
        frames: issued.frames,
        interval: issued.interval_ms,
        // Renew well before the server's deadline rather than fail after the capture.
        staleAt: Date.now() + Math.max(0, issued.expires_in - 30) * 1000,
      };
      $("challenge").dataset.action = issued.action;
      say($("challenge-turn"), config.messages[issued.action]);
      // The preview is mirrored: the person's own left is on the screen's left.
      say($("challenge-arrow"), issued.action === "turn-left" ? "←" : "→");
    } catch (problem) {
      say($("camera-error"), (problem && problem.detail) || config.errors.generic);
    }
  }

  async function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("no camera API");
    }
    stream = await withTimeout(
      navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      }),
      CAMERA_TIMEOUT_MS,
    );
    video.srcObject = stream;
    $("camera").hidden = false;
    await withTimeout(video.play(), VIDEO_TIMEOUT_MS);
    if (!video.videoWidth) {
      await withTimeout(
        new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true })),
        VIDEO_TIMEOUT_MS,
      );
    }
  }

  function stopCamera() {
    if (stream) {
      for (const track of stream.getTracks()) track.stop();
    }
    stream = null;
    video.srcObject = null;
    $("camera").hidden = true;
    $("capture").hidden = true;
  }

  function canvasFor(maxSide) {
    const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    return canvas;
  }

  function grab(canvas, quality) {
    // Drawn from the video element itself: unmirrored, whatever the preview's CSS does.
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no frame"))), "image/jpeg", quality),
    );
  }

  async function hintFor(canvas) {
    try {
      const body = new FormData();
      body.append("locale", config.lang);
      body.append("frame", await grab(canvas, 0.8), "frame.jpg");
      const response = await post(config.api.hints, body, HINT_TIMEOUT_MS);
      return response.ok ? await response.json() : null;
    } catch (_) {
      return null;
    }
  }

  /* Live hints ("one face only", "move closer", "face the camera") until the face has been fine
     for a moment. Hints are advice: if they cannot be had, the check goes ahead and the server
     judges. Resolves true when it is time to capture, false when the person never lined up. */
  async function lineUp() {
    say(status, config.messages.look);
    const canvas = canvasFor(HINT_MAX_SIDE);
    const started = performance.now();
    let ready = false;
    for (;;) {
      const now = performance.now();
      if (ready && now - started >= LOOK_MIN_MS) return true;
      if (now - started > LOOK_MAX_MS) return false;
      const hint = await hintFor(canvas);
      ready = hint === null || hint.hint === "ok";
      if (hint && status.textContent !== hint.message) say(status, hint.message);
      const next = now + HINT_EVERY_MS;
      await sleep((ready ? Math.min(next, started + LOOK_MIN_MS) : next) - performance.now());
    }
  }

  async function captureFrames() {
    const canvas = canvasFor(FRAME_MAX_SIDE);
    const progress = $("capture-progress");
    progress.max = challenge.frames;
    progress.value = 0;
    $("capture").hidden = false;
    say(status, config.messages[challenge.action]);
    const frames = [];
    const started = performance.now();
    for (let index = 0; index < challenge.frames; index += 1) {
      await sleep(started + index * challenge.interval - performance.now());
      frames.push(await grab(canvas, 0.9));
      progress.value = index + 1;
    }
    return frames;
  }

  startButton.addEventListener("click", async () => {
    if (busy) return;
    setBusy(true);
    say($("camera-error"), "");
    try {
      if (!challenge || Date.now() > challenge.staleAt) await newChallenge();
      if (!challenge) return;
      try {
        await openCamera();
      } catch (_) {
        stopCamera();
        say(status, "");
        say($("camera-error"), config.messages["camera-unavailable"]);
        $("upload").open = true;
        return;
      }
      if (!(await lineUp())) {
        stopCamera();
        say($("camera-error"), status.textContent);
        say(status, "");
        await retryLater();
        return;
      }
      const frames = await captureFrames();
      stopCamera(); // off as soon as the frames are taken
      say(status, config.messages.checking);
      const failed = await enroll({ frames: frames, challenge: challenge.token }, $("camera-error"));
      if (failed) await retryLater();
    } finally {
      stopCamera();
      setBusy(false);
    }
  });

  async function retryLater() {
    // A challenge is good for one attempt; the next one may ask for the other side.
    say(status, "");
    startButton.textContent = config.messages["try-again"];
    await newChallenge();
  }

  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const errorBox = $("upload-error");
    const photo = $("photo").files[0];
    if (!photo) {
      say(errorBox, config.messages["photo-missing"]);
      $("photo").focus();
      return;
    }
    setBusy(true);
    say(errorBox, "");
    say(status, config.messages.checking);
    try {
      await enroll({ photo: photo }, errorBox);
    } finally {
      say(status, "");
      setBusy(false);
    }
  });

  /* Sends the enrollment. Returns nothing on success (the done step is shown) and true when it
     failed, after showing the server's translated message where it belongs. */
  async function enroll(capture, errorBox) {
    const entered = new FormData(form);
    const body = new FormData();
    for (const name of FIELDS) {
      for (const value of entered.getAll(name)) body.append(name, value);
    }
    if (capture.frames) {
      body.append("challenge", capture.challenge);
      capture.frames.forEach((frame, index) => body.append("frames", frame, `frame-${index}.jpg`));
    } else {
      body.append("photo", capture.photo, capture.photo.name || "photo.jpg");
    }
    let response;
    try {
      response = await post(config.api.enrollments, body, SUBMIT_TIMEOUT_MS);
    } catch (_) {
      say(status, "");
      say(errorBox, config.errors.generic);
      return true;
    }
    if (response.ok) {
      done(await response.json());
      return false;
    }
    const problem = await problemOf(response);
    say(status, "");
    if (FORM_CODES.has(problem.code) || FORM_REASONS.has(problem.reason)) {
      say($("form-error"), problem.detail);
      show("form", $("form-error"));
    } else {
      say(errorBox, problem.detail);
    }
    return true;
  }

  // --- step 3: done -----------------------------------------------------------------------

  function done(result) {
    say($("recovery-code"), result.recovery_code);
    say($("mail-status"), config.messages[result.sign_in_mailed ? "sign-in-sent" : "mail-failed"]);
    const until = new Intl.DateTimeFormat(config.htmlLang, { dateStyle: "long", timeZone: "UTC" });
    say(
      $("deletion-date"),
      config.messages["deletion-date"].replace("%(date)s", until.format(new Date(result.retention_until))),
    );
    const receipt = new Blob([JSON.stringify(result.receipt, null, 2) + "\n"], {
      type: "application/json",
    });
    const link = $("receipt-link");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(receipt);
    const portal = $("portal-link");
    portal.href = result.portal_url;
    say(portal, result.portal_url);
    // Nothing personal stays in the page's hidden steps (a shared phone, a back button).
    form.reset();
    $("upload-form").reset();
    challenge = null;
    show("done");
  }
})();
