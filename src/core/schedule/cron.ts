/**
 * Cron expressions for schedules (`schedule.backup`, `schedule.drill` in lifeline.yaml), in UTC:
 * the five standard fields (minute hour day-of-month month day-of-week), or six with seconds first
 * (short intervals, tests). `*`, lists (1,15), ranges (1-5), steps (*\/15, 0-30/10), month and
 * weekday names (jan, mon), 7 for Sunday, and @hourly @daily @weekly @monthly @yearly. When both
 * day-of-month and day-of-week are restricted a day matching either fires (as in Vixie cron).
 * Pure: parsing and computing the next fire time only.
 */

export interface CronSchedule {
  /** The expression as written. */
  readonly source: string;
  /** True when the expression has a seconds field (it can fire more than once a minute). */
  readonly seconds: boolean;
  /** The first fire time strictly after `after`. */
  next(after: Date): Date;
}

export class CronError extends Error {}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const SECOND: Field = { name: "second", min: 0, max: 59 };
const MINUTE: Field = { name: "minute", min: 0, max: 59 };
const HOUR: Field = { name: "hour", min: 0, max: 23 };
const DAY: Field = { name: "day of month", min: 1, max: 31 };
const MONTH: Field = {
  name: "month",
  min: 1,
  max: 12,
  names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const WEEKDAY: Field = {
  name: "day of week",
  min: 0,
  max: 7,
  names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function value(text: string, field: Field): number {
  const lower = text.toLowerCase();
  const named = field.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (field === MONTH ? 1 : 0);
  if (!/^\d+$/.test(text))
    throw new CronError(`the ${field.name} field has "${text}", which is not a number`);
  const n = Number(text);
  if (n < field.min || n > field.max)
    throw new CronError(`the ${field.name} field has ${n}, outside ${field.min}-${field.max}`);
  return n;
}

/** The set of values a field allows, and whether it was `*` (unrestricted). */
function parseField(text: string, field: Field): { values: Set<number>; any: boolean } {
  const values = new Set<number>();
  let any = false;
  for (const part of text.split(",")) {
    if (part === "") throw new CronError(`the ${field.name} field has an empty list item`);
    const [range, stepText, extra] = part.split("/");
    if (extra !== undefined || range === undefined)
      throw new CronError(`the ${field.name} field has "${part}", with more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        throw new CronError(`the ${field.name} field has the step "${stepText}"; a step is a number from 1`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = field.min;
      to = field === WEEKDAY ? 6 : field.max;
      if (stepText === undefined) any = true;
    } else if (range.includes("-")) {
      const [a, b, more] = range.split("-");
      if (a === undefined || b === undefined || more !== undefined)
        throw new CronError(`the ${field.name} field has the range "${range}"; write it like 1-5`);
      from = value(a, field);
      to = value(b, field);
      if (from > to)
        throw new CronError(`the ${field.name} field has the range ${range}, which runs backwards`);
    } else {
      from = value(range, field);
      // "5/15" means from 5 to the end in steps of 15.
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) values.add(field === WEEKDAY && v === 7 ? 0 : v);
  }
  return { values, any };
}

/** Parses a cron expression; throws CronError saying what is wrong with it. */
export function parseCron(expression: string): CronSchedule {
  const source = expression;
  const text = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
  const parts = text.split(/\s+/).filter((p) => p !== "");
  if (parts.length !== 5 && parts.length !== 6)
    throw new CronError(
      `it has ${parts.length} field${parts.length === 1 ? "" : "s"}; a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)`,
    );
  const withSeconds = parts.length === 6;
  const [s, m, h, dom, mon, dow] = withSeconds ? parts : ["0", ...parts];
  const seconds = parseField(s ?? "0", SECOND).values;
  const minutes = parseField(m ?? "*", MINUTE).values;
  const hours = parseField(h ?? "*", HOUR).values;
  const days = parseField(dom ?? "*", DAY);
  const months = parseField(mon ?? "*", MONTH).values;
  const weekdays = parseField(dow ?? "*", WEEKDAY);
  const dayMatches = (d: Date): boolean => {
    const inMonth = days.values.has(d.getUTCDate());
    const inWeek = weekdays.values.has(d.getUTCDay());
    if (days.any && weekdays.any) return true;
    if (days.any) return inWeek;
    if (weekdays.any) return inMonth;
    return inMonth || inWeek;
  };
  // An expression no date can match (31 February) would make next() search forever.
  const possible = [...months].some((month) =>
    [...days.values].some((day) => day <= [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!),
  );
  if (!possible && weekdays.any)
    throw new CronError("no date matches it (the day of month never occurs in the months given)");

  return {
    source,
    seconds: withSeconds,
    next(after: Date): Date {
      const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
      // Five years of searching is more than any valid expression needs (29 February on a Monday).
      const limit = after.getTime() + 5 * 366 * 86400_000;
      while (t.getTime() <= limit) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0);
          continue;
        }
        if (!dayMatches(t)) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0);
          continue;
        }
        if (!hours.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0);
          continue;
        }
        if (!minutes.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
          continue;
        }
        if (!seconds.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1);
          continue;
        }
        return t;
      }
      throw new CronError(`"${source}" has no fire time in the next five years`);
    },
  };
}

/** The problem with an expression, or null when it parses. */
export function cronProblem(expression: string): string | null {
  try {
    parseCron(expression);
    return null;
  } catch (error) {
    if (error instanceof CronError) return error.message;
    throw error;
  }
}
