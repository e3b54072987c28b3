// Calendar days as "YYYY-MM-DD" strings, the form every zonetrack API uses. Arithmetic is done
// on UTC midnights so no time zone or daylight-saving change can shift a day.

const DAY_MS = 86400000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Milliseconds of the UTC midnight of `s`, or null when `s` is not a real calendar day. */
export function parseDay(s) {
  const m = typeof s === 'string' ? DAY_RE.exec(s) : null;
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  // Date.UTC rolls 2018-02-30 over to March: reject such days instead.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return t;
}

/** "YYYY-MM-DD" of a UTC time in milliseconds. */
export function formatDay(t) {
  return new Date(t).toISOString().slice(0, 10);
}

/** Whether `s` is a valid day string. */
export function isDay(s) {
  return parseDay(s) !== null;
}

/** The day `n` days after `day` (n may be negative). */
export function addDays(day, n) {
  return formatDay(parseDay(day) + n * DAY_MS);
}

/** Whole days from `a` to `b` (positive when b is later). */
export function daysBetween(a, b) {
  return Math.round((parseDay(b) - parseDay(a)) / DAY_MS);
}

/**
 * The same day of the month `n` months after `day`; a day the target month lacks becomes its
 * last day (2018-01-31 + 1 month = 2018-02-28), as a person stepping month by month expects.
 */
export function addMonths(day, n) {
  const d = new Date(parseDay(day));
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + n;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return formatDay(Date.UTC(y, m, Math.min(d.getUTCDate(), last)));
}

/** `day` limited to the closed range `from..=to`. */
export function clampDay(day, from, to) {
  if (day < from) return from;
  if (day > to) return to;
  return day;
}

/** Today as a day string (UTC). */
export function today() {
  return formatDay(Date.now());
}

/** A long, readable form of a day for labels: "15 February 2018". */
export function longDay(day) {
  const t = parseDay(day);
  if (t === null) return String(day);
  return new Date(t).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** "from – to" for a validity interval whose ends may be open (null). */
export function period(from, to) {
  if (!from && !to) return 'always';
  if (from && to && from === to) return `on ${from}`;
  return `${from ?? '…'} – ${to ?? 'open'}`;
}
