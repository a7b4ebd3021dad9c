// The page's behaviour: photos in, small groups to /v1/describe, cards filled in as answers
// arrive, search through /v1/recommend, and every result said in the announcements log.

import { ApiError, describe, recommend } from "./api.js";
import { createCard, errorKind, renderCard } from "./cards.js";
import { initialLanguage, rememberLanguage, strings, translatePage } from "./i18n.js";

const GROUP_SIZE = 3;  // photos per request: small, so the first alt texts show while the rest wait
const IN_FLIGHT = 2;  // requests at once; the service batches their photos together anyway
const BUSY_RETRIES = 5;  // automatic retries after a 503 before the person is asked to retry
const KEY_STORE = "altgen.apiKey";  // sessionStorage: gone when the tab closes, never sent elsewhere
const ANNOUNCEMENTS_KEPT = 20;
const COPIED_SHOWN_MS = 5000;
// Refusals that concern one file; in a group they do not say which, so each is sent again alone.
const FILE_REFUSALS = new Set(["tooBig", "notPhoto", "unreadable", "badRequest"]);
const KEY_REFUSALS = new Set(["keyNeeded", "keyRefused"]);

const $ = (id) => document.getElementById(id);
let language = initialLanguage();
let words = strings(language);
let searchResult = null;  // (words) => the last search's outcome, redrawn when the language changes
let nextId = 1;
let inFlight = 0;
const cards = [];  // in the order shown
const queue = [];  // cards waiting to be sent

function announce(text) {
  const log = $("announcements");
  const line = document.createElement("p");
  line.textContent = text;
  log.append(line);
  while (log.childElementCount > ANNOUNCEMENTS_KEPT) log.firstElementChild.remove();
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORE) ?? "";
}

function chosen(name) {
  return document.querySelector(`input[name="${name}"]:checked`).value;
}

function renderAll() {
  for (const card of cards) renderCard(card, words);
  $("empty").hidden = cards.length > 0;
  $("search-result").textContent = searchResult ? searchResult(words) : "";
}

function addFiles(files) {
  for (const file of files) {
    const card = createCard(`photo-${nextId++}`, file);
    card.parts.copy.addEventListener("click", () => copy(card));
    card.parts.retry.addEventListener("click", () => resend([card], true));
    cards.push(card);
    $("cards").append(card.parts.root);
    renderCard(card, words);
    queue.push(card);
  }
  $("empty").hidden = cards.length > 0;
  pump();
}

// Up to GROUP_SIZE waiting cards; a card sent alone after a refusal stays alone, so it cannot sink others.
function takeGroup() {
  if (queue[0].alone) return [queue.shift()];
  const group = [];
  while (group.length < GROUP_SIZE && queue.length && !queue[0].alone) group.push(queue.shift());
  return group;
}

function pump() {
  while (inFlight < IN_FLIGHT && queue.length) {
    const group = takeGroup();
    inFlight += 1;
    send(group).finally(() => {
      inFlight -= 1;
      pump();
    });
  }
}

function resend(group, alone) {
  for (const card of group) {
    Object.assign(card, { status: "waiting", error: null, alone, addedAt: performance.now() });
    renderCard(card, words);
  }
  queue.push(...group);
  pump();
}

async function send(group) {
  const key = apiKey();
  const lang = chosen("lang");
  let answer;
  try {
    answer = await describe(group.map((card) => card.file), { lang, detail: chosen("detail"), key });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    refused(group, error, Boolean(key));
    return;
  }
  const now = performance.now();
  answer.results.forEach((result, i) => {
    Object.assign(group[i], {
      status: "done",
      description: result.description,
      textLang: lang,
      seconds: (now - group[i].addedAt) / 1000,
      modelSeconds: result.timings.inference_s,
      busyTries: 0,
    });
    renderCard(group[i], words);
  });
  announce(group.map((card) => words.ready(card.name, card.description)).join(" "));
}

function refused(group, error, sentKey) {
  const kind = errorKind(error, sentKey);
  if (group.length > 1 && FILE_REFUSALS.has(kind)) {
    resend(group, true);
    return;
  }
  const tries = Math.max(...group.map((card) => card.busyTries ?? 0)) + 1;
  const retrying = kind === "busy" && tries <= BUSY_RETRIES;
  const shown = kind === "busy" && !retrying ? "stillBusy" : kind;
  for (const card of group) {
    Object.assign(card, { status: "error", error: { kind: shown, message: error.message, retryAfterS: error.retryAfterS } });
    card.busyTries = kind === "busy" ? tries : 0;
    renderCard(card, words);
  }
  const say = words.errors[shown];
  const message = typeof say === "function" ? say(error.retryAfterS) : say;
  announce(words.namedError(group.map((card) => card.name).join(", "), message));
  if (retrying) {
    // Alone, so that a group larger than the queue's free room still gets in, one photo at a time.
    setTimeout(() => resend(group, true), error.retryAfterS * 1000);
  } else if (KEY_REFUSALS.has(kind)) {
    $("key-box").open = true;
  }
}

async function copy(card) {
  try {
    await navigator.clipboard.writeText(card.description);
    card.copied = true;
    renderCard(card, words);
    announce(words.copied(card.name));
    setTimeout(() => {
      card.copied = false;
      renderCard(card, words);
    }, COPIED_SHOWN_MS);
  } catch {
    // No clipboard here (a page over plain http from another host): select the text for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(card.parts.altText);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    announce(words.copySelected);
  }
}

function showSearchResult(outcome) {
  searchResult = outcome;
  const text = outcome(words);
  $("search-result").textContent = text;
  announce(text);
}

function showRanking(answer, query) {
  const byId = new Map(cards.map((card) => [card.id, card]));
  for (const card of cards) Object.assign(card, { rank: 0, best: false });
  answer.results.forEach((result, i) => {
    byId.get(result.id).rank = i + 1;
  });
  const best = byId.get(answer.results[0].id);
  best.best = answer.match;
  // Ranked cards first, best first; the others keep their order after them.
  const place = (card) => card.rank || Number.MAX_SAFE_INTEGER;
  cards.sort((a, b) => place(a) - place(b));
  $("cards").append(...cards.map((card) => card.parts.root));
  renderAll();
  showSearchResult(answer.match ? (w) => w.bestFound(best.name, best.description) : (w) => w.noMatch(query));
}

async function search(event) {
  event.preventDefault();
  const query = $("query").value.trim();
  const described = cards.filter((card) => card.status === "done");
  if (!query) {
    showSearchResult((w) => w.needQuery);
    $("query").focus();
    return;
  }
  if (!described.length) {
    showSearchResult((w) => w.needPhotos);
    return;
  }
  $("search-result").textContent = words.searching;
  const key = apiKey();
  try {
    const candidates = described.map((card) => ({ id: card.id, description: card.description }));
    showRanking(await recommend(query, candidates, key), query);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const kind = [413, 415, 422].includes(error.status) ? "badRequest" : errorKind(error, Boolean(key));
    const say = kind === "busy" ? "stillBusy" : kind;
    showSearchResult((w) => `${w.errors[say]} ${w.serviceSaid} ${error.message}`);
    if (KEY_REFUSALS.has(kind)) $("key-box").open = true;
  }
}

function saveKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
  $("key-status").dataset.i18n = key ? "keySaved" : "keyCleared";  // so that a language switch redraws it
  $("key-status").textContent = words[$("key-status").dataset.i18n];
  announce($("key-status").textContent);
  resend(cards.filter((card) => card.status === "error" && KEY_REFUSALS.has(card.error.kind)), false);
}

function setLanguage(next) {
  language = next;
  words = strings(next);
  translatePage(next);
  renderAll();
}

function start() {
  setLanguage(language);
  document.querySelector(`input[name="lang"][value="${language}"]`).checked = true;
  $("api-key").value = apiKey();

  for (const button of document.querySelectorAll("[data-ui-lang]")) {
    button.addEventListener("click", () => {
      rememberLanguage(button.dataset.uiLang);
      setLanguage(button.dataset.uiLang);
    });
  }
  $("files").addEventListener("change", (event) => {
    addFiles(event.target.files);
    event.target.value = "";  // the same photo can be chosen again
  });
  // Drops anywhere count, so a photo dropped beside the drop area is not opened in place of the page.
  window.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) document.body.classList.remove("dragging");
  });
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    addFiles(event.dataTransfer.files);
  });
  $("search").addEventListener("submit", search);
  $("key-form").addEventListener("submit", saveKey);
}

start();
