// Interface language for every page: Vietnamese first, English second; strings per key.
const LANGS = ["vi", "en"];
const KEY = "ioc.lang";
const strings = { vi: {}, en: {} };
const listeners = [];

function initialLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (LANGS.includes(q)) return q;
  try {
    const saved = localStorage.getItem(KEY);
    if (LANGS.includes(saved)) return saved;
  } catch (e) {
    // storage may be disabled (private mode); the default is fine
  }
  return "vi";
}

let lang = initialLang();
document.documentElement.lang = lang;

// Adds a page's strings: {vi: {key: text}, en: {key: text}}. Later calls override earlier keys.
export function addStrings(table) {
  for (const l of LANGS) Object.assign(strings[l], table[l] || {});
}

// The current language code: "vi" or "en".
export function getLang() {
  return lang;
}

// The BCP 47 locale for Intl: "vi-VN" or "en-US".
export function getLocale() {
  return lang === "vi" ? "vi-VN" : "en-US";
}

// Switches language, remembers it and tells every onLangChange listener.
export function setLang(l) {
  if (!LANGS.includes(l) || l === lang) return;
  lang = l;
  document.documentElement.lang = l;
  try {
    localStorage.setItem(KEY, l);
  } catch (e) {
    // not remembered; still switched
  }
  for (const fn of listeners) fn(l);
}

// Calls fn(lang) after every switch.
export function onLangChange(fn) {
  listeners.push(fn);
}

// The text of key in the current language ({name} placeholders filled from vars); falls back to
// Vietnamese, then to the key itself so a missing string is visible, not blank.
export function t(key, vars) {
  let s = strings[lang][key] ?? strings.vi[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// The current language's text of a {vi, en} name object (or a plain string as is).
export function localName(name) {
  if (name == null) return "";
  if (typeof name === "string") return name;
  return name[lang] ?? name.vi ?? name.en ?? "";
}

// Fills every element with data-i18n="key" (text) or data-i18n-title="key" (title) under root.
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}
