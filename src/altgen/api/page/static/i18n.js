// The page's words in English and Korean, and which of the two to show.

const STRINGS = {
  en: {
    title: "altgen: alt text for your photos",
    heading: "altgen: alt text for your photos",
    skip: "Skip to the photos",
    uiLanguage: "Page language",
    intro: "Add photos to read the alt text this service writes for them, then find one by asking for it. " +
      "Your photos go to this service only.",
    addHeading: "1. Add photos",
    dropHint: "Drop photos anywhere on this page, or choose them.",
    chooseLabel: "Choose photos",
    textLanguage: "Language of the alt text",
    english: "English",
    korean: "Korean",
    detail: "Length",
    detailAlt: "Short alt text",
    detailLong: "Long description",
    keySummary: "API key",
    keyLabel: "API key (only if the service asks for one)",
    keyNote: "Kept in this browser tab only, and sent only to this service.",
    keyButton: "Use this key",
    keySaved: "Key saved for this tab.",
    keyCleared: "Key removed.",
    searchHeading: "2. Find a photo",
    searchLabel: "Describe the photo you want",
    searchHint: "For example:",
    searchButton: "Find",
    photosHeading: "Photos and their alt text",
    noPhotos: "No photos yet.",
    docsLink: "API documentation",
    noPreview: "No preview",
    describing: "Writing alt text…",
    altLabel: "Alt text:",
    copy: "Copy",
    copyName: (name) => `Copy the alt text of ${name}`,
    copied: (name) => `Copied the alt text of ${name}.`,
    copySelected: "The alt text is selected: press Ctrl+C (or ⌘C) to copy it.",
    retry: "Try again",
    retryName: (name) => `Try again: ${name}`,
    timing: (seconds, model) => `Ready in ${seconds} s (model ${model} s).`,
    ready: (name, text) => `${name}: ${text}`,
    rank: (n) => `Rank ${n}`,
    best: "Best match",
    searching: "Searching…",
    bestFound: (name, text) => `Best match: ${name}. ${text}`,
    noMatch: (query) => `No good match for “${query}”: none of the photos fits it.`,
    needPhotos: "Add photos first: the search uses their alt text.",
    needQuery: "Type what you are looking for.",
    serviceSaid: "The service said:",
    errors: {
      notPhoto: "Not a photo this service can read. Use a JPEG, PNG, GIF, WebP, BMP or TIFF file.",
      tooBig: "Too big for this service. Use a smaller photo.",
      unreadable: "This file could not be read as a photo (empty or damaged).",
      busy: (seconds) => `The service is busy. Trying again in ${seconds} s.`,
      stillBusy: "The service is still busy. Try again in a moment.",
      keyNeeded: "This service needs an API key. Enter it under “API key”, then choose “Use this key”.",
      keyRefused: "The API key was not accepted. Check it under “API key” and choose “Use this key”.",
      slow: "The service took too long to answer. Try again.",
      offline: "The service cannot be reached. Check that it is running, then try again.",
      failed: "Something went wrong in the service. Try again.",
      badRequest: "The service could not take this request.",
    },
    namedError: (name, message) => `${name}: ${message}`,
  },
  ko: {
    title: "altgen: 사진 대체 텍스트",
    heading: "altgen: 사진 대체 텍스트",
    skip: "사진으로 건너뛰기",
    uiLanguage: "페이지 언어",
    intro: "사진을 추가하면 이 서비스가 쓴 대체 텍스트를 읽을 수 있고, 원하는 사진을 말로 찾을 수 있습니다. " +
      "사진은 이 서비스로만 전송됩니다.",
    addHeading: "1. 사진 추가",
    dropHint: "이 페이지 어디에나 사진을 끌어다 놓거나 선택하세요.",
    chooseLabel: "사진 선택",
    textLanguage: "대체 텍스트 언어",
    english: "영어",
    korean: "한국어",
    detail: "길이",
    detailAlt: "짧은 대체 텍스트",
    detailLong: "긴 설명",
    keySummary: "API 키",
    keyLabel: "API 키 (서비스가 요구할 때만)",
    keyNote: "이 브라우저 탭에만 보관되며 이 서비스로만 전송됩니다.",
    keyButton: "이 키 사용",
    keySaved: "이 탭에 키를 저장했습니다.",
    keyCleared: "키를 지웠습니다.",
    searchHeading: "2. 사진 찾기",
    searchLabel: "찾는 사진을 설명하세요",
    searchHint: "예:",
    searchButton: "찾기",
    photosHeading: "사진과 대체 텍스트",
    noPhotos: "아직 사진이 없습니다.",
    docsLink: "API 문서",
    noPreview: "미리 보기 없음",
    describing: "대체 텍스트 작성 중…",
    altLabel: "대체 텍스트:",
    copy: "복사",
    copyName: (name) => `${name}의 대체 텍스트 복사`,
    copied: (name) => `${name}의 대체 텍스트를 복사했습니다.`,
    copySelected: "대체 텍스트를 선택했습니다. Ctrl+C(또는 ⌘C)를 눌러 복사하세요.",
    retry: "다시 시도",
    retryName: (name) => `다시 시도: ${name}`,
    timing: (seconds, model) => `${seconds}초 만에 완료 (모델 ${model}초).`,
    ready: (name, text) => `${name}: ${text}`,
    rank: (n) => `${n}위`,
    best: "가장 잘 맞는 사진",
    searching: "찾는 중…",
    bestFound: (name, text) => `가장 잘 맞는 사진: ${name}. ${text}`,
    noMatch: (query) => `“${query}”에 잘 맞는 사진이 없습니다.`,
    needPhotos: "먼저 사진을 추가하세요. 검색에는 사진의 대체 텍스트가 쓰입니다.",
    needQuery: "찾는 사진을 입력하세요.",
    serviceSaid: "서비스 메시지:",
    errors: {
      notPhoto: "이 서비스가 읽을 수 있는 사진이 아닙니다. JPEG, PNG, GIF, WebP, BMP, TIFF 파일을 사용하세요.",
      tooBig: "이 서비스에 보내기에는 너무 큽니다. 더 작은 사진을 사용하세요.",
      unreadable: "이 파일을 사진으로 읽을 수 없습니다 (비어 있거나 손상됨).",
      busy: (seconds) => `서비스가 바쁩니다. ${seconds}초 후에 다시 시도합니다.`,
      stillBusy: "서비스가 계속 바쁩니다. 잠시 후 다시 시도하세요.",
      keyNeeded: "이 서비스에는 API 키가 필요합니다. “API 키”에 입력한 뒤 “이 키 사용”을 누르세요.",
      keyRefused: "API 키가 받아들여지지 않았습니다. “API 키”에서 확인한 뒤 “이 키 사용”을 누르세요.",
      slow: "서비스의 응답이 너무 늦었습니다. 다시 시도하세요.",
      offline: "서비스에 연결할 수 없습니다. 서비스가 실행 중인지 확인한 뒤 다시 시도하세요.",
      failed: "서비스에 문제가 생겼습니다. 다시 시도하세요.",
      badRequest: "서비스가 이 요청을 처리할 수 없습니다.",
    },
    namedError: (name, message) => `${name}: ${message}`,
  },
};

const LANGUAGES = Object.keys(STRINGS);
const CHOICE_KEY = "altgen.uiLanguage";

// A choice made with the switch wins; otherwise the browser's first language we have.
export function initialLanguage() {
  const chosen = localStorage.getItem(CHOICE_KEY);
  if (LANGUAGES.includes(chosen)) return chosen;
  for (const tag of navigator.languages?.length ? navigator.languages : [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export function rememberLanguage(language) {
  localStorage.setItem(CHOICE_KEY, language);
}

export function strings(language) {
  return STRINGS[language] ?? STRINGS.en;
}

// Every static text of the page in `language`, and the document's own language for screen readers.
export function translatePage(language) {
  const words = strings(language);
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = words[element.dataset.i18n];
  }
  for (const button of document.querySelectorAll("[data-ui-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.uiLang === language));
  }
}
