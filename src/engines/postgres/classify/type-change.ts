/**
 * Whether ALTER COLUMN … TYPE can lose data, decided from the column's current type (read from the
 * catalog) and the new type as written. Conservative: only changes proven lossless here are; every
 * other change (a USING clause, a domain, an array, a narrowing, a change of meaning such as
 * timestamptz → timestamp or char → text) stays destructive.
 */

export interface CurrentType {
  /** pg_type.typname of a built-in base type (pg_catalog), or null for anything else. */
  name: string | null;
  /** pg_attribute.atttypmod (-1: none). */
  typmod: number;
}

export interface NewType {
  /** pg_type.typname of a built-in base type (pg_catalog), or null for anything else. */
  name: string | null;
  /** The modifiers as written: varchar(21) → [21], numeric(12,2) → [12, 2]. */
  typmods: number[];
  array: boolean;
}

export interface Lossless {
  /** Whether PostgreSQL rewrites the table (false: binary-coercible, catalog-only change). */
  rewrite: boolean;
  why: string;
}

const INTEGER_DIGITS: Record<string, number> = { int2: 5, int4: 10, int8: 19 };
/** Longest text form: "-32768", "-2147483648", "-9223372036854775808". */
const INTEGER_CHARS: Record<string, number> = { int2: 6, int4: 11, int8: 20 };
const INTEGER_WIDTH: Record<string, number> = { int2: 2, int4: 4, int8: 8 };
/** Types whose text form is exact (the value can be read back from it). */
const EXACT_TEXT = new Set([
  "int2",
  "int4",
  "int8",
  "numeric",
  "uuid",
  "date",
  "inet",
  "cidr",
  "bool",
  "varchar",
  "text",
]);
const PRECISION_TYPES = new Set(["timestamp", "timestamptz", "time", "timetz"]);

function numericOf(typmod: number): { precision: number; scale: number } | null {
  if (typmod < 4) return null;
  const t = typmod - 4;
  // PostgreSQL 15 allows negative scales: an 11-bit signed field.
  return { precision: (t >> 16) & 0xffff, scale: ((t & 0x7ff) ^ 1024) - 1024 };
}

/** null: cannot be proven lossless (destructive). */
export function losslessTypeChange(from: CurrentType, to: NewType): Lossless | null {
  const f = from.name;
  const t = to.name;
  if (f === null || t === null || to.array || to.typmods.some((m) => !Number.isInteger(m))) return null;
  const [m1, m2] = to.typmods;
  if (f === t) {
    if (f === "varchar" || f === "varbit" || f === "bit") {
      if (f === "bit") return null;
      const old = from.typmod < 0 ? -1 : f === "varchar" ? from.typmod - 4 : from.typmod;
      const wider = m1 === undefined || (old >= 0 && m1 >= old);
      return wider ? { rewrite: false, why: "the length limit is not lowered" } : null;
    }
    if (f === "numeric") {
      const old = numericOf(from.typmod);
      if (m1 === undefined) return { rewrite: false, why: "unconstrained numeric holds every value" };
      if (!old || old.scale < 0) return null;
      const scale = m2 ?? 0;
      if (scale === old.scale && m1 >= old.precision)
        return { rewrite: false, why: "same scale, precision not lowered" };
      if (scale > old.scale && m1 - scale >= old.precision - old.scale)
        return { rewrite: true, why: "more digits on both sides of the point: every value fits unchanged" };
      return null;
    }
    if (PRECISION_TYPES.has(f)) {
      const old = from.typmod < 0 ? 6 : from.typmod;
      if (m1 !== undefined && m1 < old) return null;
      // PostgreSQL (TemporalSimplify) skips the rewrite when the precision is not lowered; timetz
      // has no such support function.
      return { rewrite: f === "timetz", why: "fractional-second precision not lowered" };
    }
    if (from.typmod < 0 && to.typmods.length === 0) return { rewrite: false, why: "same type" };
    return null;
  }
  if (f === "varchar" && t === "text")
    return { rewrite: false, why: "text holds every varchar value (binary-coercible)" };
  if (f === "text" && t === "varchar" && m1 === undefined)
    return { rewrite: false, why: "unbounded varchar holds every text value (binary-coercible)" };
  if (f === "cidr" && t === "inet")
    return { rewrite: false, why: "every cidr value is an inet value (binary-coercible)" };
  const fromWidth = INTEGER_WIDTH[f];
  const toWidth = INTEGER_WIDTH[t];
  if (fromWidth !== undefined && toWidth !== undefined && toWidth > fromWidth)
    return { rewrite: true, why: "the wider integer holds every value" };
  const digits = INTEGER_DIGITS[f];
  if (digits !== undefined && t === "numeric" && (m1 === undefined || m1 - (m2 ?? 0) >= digits))
    return { rewrite: true, why: "the numeric holds every integer value" };
  if (f === "date" && t === "timestamp")
    return { rewrite: true, why: "every date is a timestamp at midnight" };
  if (EXACT_TEXT.has(f) && (t === "text" || (t === "varchar" && m1 === undefined)))
    return { rewrite: true, why: "every value's text form is exact" };
  const chars = INTEGER_CHARS[f];
  if (chars !== undefined && t === "varchar" && m1 !== undefined && m1 >= chars)
    return { rewrite: true, why: `every integer fits in ${m1} characters` };
  return null;
}
