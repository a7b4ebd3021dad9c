// One card per photo: its state, and the markup drawn from that state in the page's language.

// Kinds of failure a person can fix by trying again (the rest need another file).
const RETRYABLE = new Set(["offline", "keyNeeded", "keyRefused", "stillBusy", "slow", "failed"]);

// What an API failure means for a person: the status decides, the API's own message is shown as well.
export function errorKind(error, sentKey) {
  switch (error.status) {
    case 0: return "offline";
    case 401: return sentKey ? "keyRefused" : "keyNeeded";
    case 413: return "tooBig";
    case 415: return "notPhoto";
    case 422: return "unreadable";
    case 503: return "busy";
    case 504: return "slow";
    default: return error.status >= 500 ? "failed" : "badRequest";
  }
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  parent?.append(node);
  return node;
}

export function createCard(id, file) {
  const root = element("li", "card");
  root.id = id;
  // Only files the browser calls images get a preview; anything else would show a broken image.
  const preview = file.type.startsWith("image/") ? element("img", "thumb", root) : element("div", "thumb none", root);
  if (preview.tagName === "IMG") {
    preview.src = URL.createObjectURL(file);
    preview.alt = "";  // until the service has written it
  }
  const body = element("div", "body", root);
  const parts = {
    root,
    preview,
    name: element("h3", "name", body),
    badge: element("p", "badge", body),
    state: element("p", "state", body),
    said: element("p", "said", body),
    alt: element("p", "alt", body),
    timing: element("p", "timing", body),
  };
  parts.altLabel = element("span", "label", parts.alt);
  parts.alt.append(" ");
  parts.altText = element("span", "text", parts.alt);
  const actions = element("div", "actions", body);
  parts.copy = element("button", "copy", actions);
  parts.retry = element("button", "retry", actions);
  parts.copy.type = parts.retry.type = "button";
  parts.copied = element("p", "copied", body);
  parts.said.lang = "en";  // the API's messages are in English
  parts.name.textContent = file.name;
  return {
    id, file, name: file.name, parts,
    status: "waiting",  // waiting | done | error
    description: "", textLang: "en", seconds: 0, modelSeconds: 0,
    error: null,  // {kind, message, retryAfterS}
    rank: 0, best: false, copied: false,
    addedAt: performance.now(),
  };
}

function isRetryable(card) {
  return card.status === "error" && RETRYABLE.has(card.error.kind);
}

export function renderCard(card, words) {
  const p = card.parts;
  const done = card.status === "done";
  p.root.classList.toggle("best", card.best);
  p.root.classList.toggle("failed", card.status === "error");
  // Busy until its answer is final: a photo the service was too busy for is retried on its own.
  p.root.setAttribute("aria-busy", String(card.status === "waiting" || card.error?.kind === "busy"));
  if (p.preview.tagName === "IMG") {
    p.preview.alt = done ? card.description : "";
    p.preview.lang = card.textLang;
  } else {
    p.preview.textContent = words.noPreview;
  }

  p.badge.hidden = !card.rank;
  p.badge.textContent = card.best ? `${words.rank(card.rank)} · ${words.best}` : words.rank(card.rank);

  p.state.hidden = done;
  p.said.hidden = !(card.status === "error" && card.error.message);
  if (card.status === "waiting") {
    p.state.textContent = words.describing;
  } else if (card.status === "error") {
    const say = words.errors[card.error.kind];
    p.state.textContent = typeof say === "function" ? say(card.error.retryAfterS) : say;
    p.said.textContent = `${words.serviceSaid} ${card.error.message}`;
  }

  p.alt.hidden = p.timing.hidden = p.copy.hidden = !done;
  p.altLabel.textContent = words.altLabel;
  p.altText.textContent = card.description;
  p.altText.lang = card.textLang;
  p.timing.textContent = done ? words.timing(card.seconds.toFixed(2), card.modelSeconds.toFixed(2)) : "";
  p.copy.textContent = words.copy;
  p.copy.setAttribute("aria-label", words.copyName(card.name));
  p.copied.hidden = !(done && card.copied);
  p.copied.textContent = words.copied(card.name);

  p.retry.hidden = !isRetryable(card);
  p.retry.textContent = words.retry;
  p.retry.setAttribute("aria-label", words.retryName(card.name));
}
