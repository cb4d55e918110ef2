// Exact decimals for the API's decimal strings: a value is BigInt units at a scale (10^-scale),
// so "is this price on the 0.01 tick" and "quantity x (reference - cost)" never meet binary
// floating point. Numbers (toNumber) are only for sorting, filtering and the chart.

const PLAIN = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/;

export function parse(text) {
  if (text === null || text === undefined) return null;
  if (typeof text === "object" && "units" in text) return text;
  const match = PLAIN.exec(String(text));
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) return null;
  const fraction = match[3] ?? "";
  const units = BigInt((match[2] || "0") + fraction);
  return { units: match[1] === "-" ? -units : units, scale: fraction.length };
}

function align(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
}

export function add(a, b) {
  const [x, y, scale] = align(parse(a), parse(b));
  return { units: x + y, scale };
}

export function sub(a, b) {
  const [x, y, scale] = align(parse(a), parse(b));
  return { units: x - y, scale };
}

export function mul(a, b) {
  const [x, y] = [parse(a), parse(b)];
  return { units: x.units * y.units, scale: x.scale + y.scale };
}

export function compare(a, b) {
  const [x, y] = align(parse(a), parse(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isPositive(value) {
  const d = parse(value);
  return d !== null && d.units > 0n;
}

/** Whether `value` is a whole number of `step`s (a price on its tick, a quantity in lots). */
export function isMultiple(value, step) {
  const [x, y] = align(parse(value), parse(step));
  return y !== 0n && x % y === 0n;
}

/** Fixed places, rounding half away from zero, as a plain string. */
export function format(value, places = 2) {
  const d = parse(value);
  if (d === null) return "";
  let units = d.units;
  if (d.scale > places) {
    const divisor = 10n ** BigInt(d.scale - places);
    const half = divisor / 2n;
    units = (units < 0n ? units - half : units + half) / divisor; // BigInt division truncates
  } else {
    units *= 10n ** BigInt(places - d.scale);
  }
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(places + 1, "0");
  const whole = digits.slice(0, digits.length - places);
  const text = places ? `${whole}.${digits.slice(digits.length - places)}` : whole;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/** The value as the API writes it: no padding ("190.5", "100"). */
export function toText(value) {
  const d = parse(value);
  if (d === null) return "";
  if (d.scale === 0) return d.units.toString();
  const text = format(d, d.scale);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

export function toNumber(value) {
  const d = parse(value);
  return d === null ? null : Number(d.units) / 10 ** d.scale;
}
