// Small DOM helpers: elements built from data never go through innerHTML.

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

/** An ISO time as the trader's clock shows it (HH:MM:SS). */
export function timeOf(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : clock.format(date);
}

/** el("td", {class: "num", title: "x"}, "text", child...) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function toast(text, kind = "info", ms = 6000) {
  const box = document.getElementById("toasts");
  const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

/** A modal confirmation naming what will happen; answers the reason typed, or null if declined. */
export function confirmDialog({ title, text, action, askReason = false }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-text").textContent = text;
  const reason = dialog.querySelector("#confirm-reason");
  reason.hidden = !askReason;
  reason.value = "";
  const yes = dialog.querySelector("#confirm-yes");
  yes.textContent = action;
  const sync = () => (yes.disabled = askReason && !reason.value.trim());
  reason.oninput = sync;
  sync();
  dialog.returnValue = "";
  dialog.showModal();
  (askReason ? reason : yes).focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes" ? reason.value.trim() : null), {
      once: true,
    });
  });
}
