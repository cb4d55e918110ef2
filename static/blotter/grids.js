// The three grids (orders, fills, positions) on AG Grid Community, loaded as the UMD global
// `agGrid` from static/vendor/. Decimal columns keep the API's strings for display and compare
// exactly; each grid keeps its column layout per user in localStorage.

import { compare, format, toNumber } from "./decimal.js";
import { timeOf } from "./dom.js";
import { DONE_STATUSES, positionKey, totalPnl, unrealisedPnl } from "./store.js";

const agGrid = globalThis.agGrid;

export const theme = agGrid.themeBalham.withPart(agGrid.colorSchemeDarkBlue).withParams({
  fontFamily: "var(--font-ui)",
  fontSize: 12,
  headerFontSize: 11,
  rowHeight: 24,
  headerHeight: 26,
  spacing: 3,
  backgroundColor: "#10161f",
  headerBackgroundColor: "#161e2a",
  oddRowBackgroundColor: "#121a24",
  accentColor: "#3d8bfd",
  borderColor: "#243042",
});

function decimalComparator(a, b) {
  if (a === null || a === undefined || a === "") return b === null || b === undefined || b === "" ? 0 : -1;
  if (b === null || b === undefined || b === "") return 1;
  return compare(a, b);
}

/** A column of decimal strings: right-aligned, numeric filter, exact sort. */
export function decimalColumn(field, headerName, extra = {}) {
  return {
    field,
    headerName,
    type: "rightAligned",
    cellClass: "num",
    filter: "agNumberColumnFilter",
    filterValueGetter: (p) => toNumber(p.getValue(field)),
    comparator: decimalComparator,
    ...extra,
  };
}

function timeColumn(field, headerName, extra = {}) {
  return { field, headerName, width: 86, valueFormatter: (p) => timeOf(p.value), filter: false, ...extra };
}

const sideColumn = {
  field: "side",
  headerName: "Side",
  width: 74,
  cellClass: (p) => `side side-${p.value}`,
  valueFormatter: (p) => ({ buy: "Buy", sell: "Sell", sell_short: "Sell short" })[p.value] ?? p.value,
};

/** Column state (order, widths, sort, hidden) per user and grid. */
function keepLayout(api, key) {
  try {
    const saved = JSON.parse(localStorage.getItem(key) ?? "null");
    if (Array.isArray(saved)) api.applyColumnState({ state: saved, applyOrder: true });
  } catch {
    localStorage.removeItem(key);
  }
  const save = () => localStorage.setItem(key, JSON.stringify(api.getColumnState()));
  for (const name of ["columnMoved", "columnVisible", "columnPinned", "sortChanged", "columnResized"]) {
    api.addEventListener(name, (event) => {
      if (name === "columnResized" && !event.finished) return;
      if (name === "columnMoved" && event.finished === false) return;
      save();
    });
  }
}

class Grid {
  constructor(element, name, username, options) {
    this.name = name;
    this.layoutKey = `oms.blotter.${username}.${name}.columns`;
    this.defaultState = null;
    this.api = agGrid.createGrid(element, {
      theme,
      animateRows: false,
      suppressCellFocus: false,
      enableCellTextSelection: true,
      ensureDomOrder: true,
      suppressColumnVirtualisation: true, // a few dozen columns: all in the DOM, for search and tests
      rowData: [],
      defaultColDef: {
        sortable: true,
        resizable: true,
        filter: true,
        floatingFilter: true,
        enableCellChangeFlash: true,
        minWidth: 60,
      },
      ...options,
    });
    this.defaultState = this.api.getColumnState();
    keepLayout(this.api, this.layoutKey);
  }

  resetLayout() {
    localStorage.removeItem(this.layoutKey);
    this.api.applyColumnState({ state: this.defaultState, applyOrder: true });
  }

  setRows(rows) {
    this.api.setGridOption("rowData", rows);
  }

  apply(transaction) {
    if (transaction.add.length || transaction.update.length || transaction.remove.length) {
      this.api.applyTransaction(transaction);
    }
  }

  quickFilter(text) {
    this.api.setGridOption("quickFilterText", text);
  }

  exportCsv() {
    const day = new Date().toISOString().slice(0, 10);
    this.api.exportDataAsCsv({
      fileName: `${this.name}-${day}.csv`,
      columnKeys: this.api
        .getAllDisplayedColumns()
        .filter((c) => !c.getColDef().suppressCsv)
        .map((c) => c.getColId()),
      processCellCallback: (p) => p.value ?? "", // raw values: decimal strings, ISO times
    });
  }

  get rowCount() {
    return this.api.getDisplayedRowCount();
  }
}

function statusClass(params) {
  return params.value ? `status status-${params.value}` : "status";
}

/** Orders, parents with their children under them (shown when the parent is expanded), and the
 * per-row actions. AG Grid Community has no tree data: an external filter hides collapsed
 * children, and postSortRows puts each shown child under its parent whatever the sort. */
export class OrdersGrid extends Grid {
  constructor(element, { username, canTrade, onOpen, onCancel, onAmend }) {
    const expanded = new Set();
    const childCount = new Map();
    let showAllChildren = false;
    const actions = (params) => {
      const row = params.data;
      const box = document.createElement("span");
      box.className = "row-actions";
      if (!row) return box;
      const live = !DONE_STATUSES.has(row.status);
      for (const [action, label, title] of [
        ["amend", "Amend", "Change quantity or price"],
        ["cancel", "Cancel", "Cancel the order"],
      ]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = `mini ${action}`;
        button.textContent = label;
        button.title = title;
        button.dataset.action = action;
        button.setAttribute("aria-label", `${label} ${row.cl_ord_id}`);
        button.disabled = !canTrade() || !live || (action === "amend" && row.order_type === "market");
        button.addEventListener("click", (event) => {
          event.stopPropagation();
          (action === "cancel" ? onCancel : onAmend)(row, button);
        });
        box.append(button);
      }
      return box;
    };
    const idCell = (params) => {
      const row = params.data;
      const cell = document.createElement("span");
      if (!row) return cell;
      if (row.parent) {
        cell.className = "child-id";
        cell.textContent = `↳ ${row.cl_ord_id}`;
        return cell;
      }
      if (row.strategy) {
        const toggle = document.createElement("button");
        toggle.type = "button";
        toggle.className = "tree-toggle";
        const open = showAllChildren || expanded.has(row.id);
        toggle.textContent = open ? "▾" : "▸";
        toggle.setAttribute("aria-expanded", String(open));
        toggle.setAttribute("aria-label", `${open ? "Hide" : "Show"} children of ${row.cl_ord_id}`);
        toggle.addEventListener("click", (event) => {
          event.stopPropagation();
          this.toggle(row.id);
        });
        cell.append(toggle);
      }
      cell.append(document.createTextNode(row.cl_ord_id));
      if (row.strategy) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = `${row.strategy} ×${childCount.get(row.id) ?? 0}`;
        cell.append(badge);
      }
      return cell;
    };
    super(element, "orders", username, {
      getRowId: (p) => String(p.data.id),
      rowClassRules: {
        "row-child": (p) => Boolean(p.data?.parent),
        "row-parent": (p) => Boolean(p.data?.strategy),
        "row-done": (p) => DONE_STATUSES.has(p.data?.status),
      },
      isExternalFilterPresent: () => true,
      doesExternalFilterPass: (node) => !node.data.parent || showAllChildren || expanded.has(node.data.parent),
      postSortRows: ({ nodes }) => {
        const shown = new Set(nodes.map((n) => n.data.id));
        const under = new Map();
        const top = [];
        for (const node of nodes) {
          const parent = node.data.parent;
          if (parent && shown.has(parent)) {
            if (!under.has(parent)) under.set(parent, []);
            under.get(parent).push(node);
          } else top.push(node);
        }
        nodes.length = 0;
        for (const node of top) nodes.push(node, ...(under.get(node.data.id) ?? []));
      },
      onRowClicked: (e) => onOpen(e.data),
      onCellKeyDown: (e) => {
        if (e.event.key === "Enter" && e.data) onOpen(e.data);
      },
      columnDefs: [
        { colId: "cl_ord_id", field: "cl_ord_id", headerName: "ClOrdID", cellRenderer: idCell, width: 220, pinned: "left" },
        { field: "id", headerName: "ID", width: 70, filter: "agNumberColumnFilter", sort: "desc" },
        timeColumn("created_at", "Time"),
        { field: "account", headerName: "Account", width: 96 },
        { field: "symbol", headerName: "Symbol", width: 80 },
        sideColumn,
        decimalColumn("quantity", "Qty", { width: 86 }),
        decimalColumn("limit_price", "Limit", { width: 86, valueFormatter: (p) => p.value ?? "MKT" }),
        { field: "order_type", headerName: "Type", width: 70, hide: true },
        { field: "time_in_force", headerName: "TIF", width: 60, valueFormatter: (p) => (p.value ?? "").toUpperCase() },
        {
          colId: "route",
          headerName: "Route",
          width: 84,
          valueGetter: (p) => p.data?.venue || p.data?.strategy || "",
        },
        { field: "status", headerName: "Status", width: 122, cellClass: statusClass },
        decimalColumn("cum_qty", "Cum", { width: 80 }),
        decimalColumn("leaves_qty", "Leaves", { width: 80 }),
        decimalColumn("avg_px", "Avg px", { width: 90 }),
        {
          colId: "reason",
          headerName: "Reason / text",
          width: 260,
          tooltipValueGetter: (p) => p.value,
          valueGetter: (p) => {
            const o = p.data;
            if (!o) return "";
            if (o.status === "rejected") return `${o.reject_reason}: ${o.reject_text || o.text}`;
            return o.text || (o.pending ? `${o.pending.kind} pending` : "");
          },
        },
        { field: "parent", headerName: "Parent", width: 70, hide: true, filter: "agNumberColumnFilter" },
        timeColumn("updated_at", "Updated", { hide: true }),
        {
          colId: "actions",
          headerName: "",
          width: 118,
          pinned: "right",
          cellRenderer: actions,
          sortable: false,
          filter: false,
          resizable: false,
          suppressCsv: true,
          enableCellChangeFlash: false,
        },
      ],
    });
    this.expanded = expanded;
    this.childCount = childCount;
    this.setShowAllChildren = (value) => {
      showAllChildren = value;
      this.api.onFilterChanged();
      this.api.refreshCells({ columns: ["cl_ord_id"], force: true });
    };
  }

  countChildren(orders) {
    this.childCount.clear();
    for (const order of orders) {
      if (order.parent) this.childCount.set(order.parent, (this.childCount.get(order.parent) ?? 0) + 1);
    }
  }

  setRows(rows) {
    this.countChildren(rows);
    super.setRows(rows);
  }

  applyOrders(transaction, allOrders) {
    const newChildren = transaction.add.some((o) => o.parent);
    if (newChildren) this.countChildren(allOrders);
    this.apply(transaction);
    if (newChildren) this.api.refreshCells({ columns: ["cl_ord_id"], force: true });
  }

  toggle(parentId) {
    if (this.expanded.has(parentId)) this.expanded.delete(parentId);
    else this.expanded.add(parentId);
    this.api.onFilterChanged();
    const node = this.api.getRowNode(String(parentId));
    if (node) this.api.refreshCells({ rowNodes: [node], columns: ["cl_ord_id"], force: true });
  }

  /** Re-renders the action buttons (their enabled state follows the status). */
  refreshActions(rows) {
    const nodes = rows.map((r) => this.api.getRowNode(String(r.id))).filter(Boolean);
    if (nodes.length) this.api.refreshCells({ rowNodes: nodes, columns: ["actions"], force: true });
  }
}

export class FillsGrid extends Grid {
  constructor(element, { username, onOpenOrder }) {
    super(element, "fills", username, {
      getRowId: (p) => String(p.data.id),
      onRowDoubleClicked: (e) => onOpenOrder(e.data.order),
      columnDefs: [
        { field: "id", headerName: "Fill", width: 70, filter: "agNumberColumnFilter", sort: "desc" },
        timeColumn("executed_at", "Time"),
        { field: "order", headerName: "Order", width: 74, filter: "agNumberColumnFilter" },
        { field: "account", headerName: "Account", width: 96 },
        { field: "symbol", headerName: "Symbol", width: 80 },
        sideColumn,
        decimalColumn("last_qty", "Qty", { width: 84 }),
        decimalColumn("last_px", "Price", { width: 90 }),
        { field: "exec_id", headerName: "ExecID", width: 170 },
      ],
    });
  }
}

export class PositionsGrid extends Grid {
  constructor(element, { username, reference }) {
    const signed = (p) => (p.value ? `num ${p.value.startsWith("-") ? "neg" : p.value === "0.00" ? "" : "pos"}` : "num");
    super(element, "positions", username, {
      getRowId: (p) => positionKey(p.data),
      columnDefs: [
        { field: "account", headerName: "Account", width: 96, sort: "asc" },
        { field: "symbol", headerName: "Symbol", width: 80, sort: "asc" },
        decimalColumn("quantity", "Position", { width: 90 }),
        decimalColumn("avg_cost", "Avg cost", { width: 94, valueFormatter: (p) => (p.value ? format(p.value, 4) : "") }),
        decimalColumn("reference", "Ref px", {
          colId: "reference",
          width: 88,
          valueGetter: (p) => (p.data ? reference(p.data.symbol) : null),
        }),
        decimalColumn("realized_pnl", "Realised", {
          width: 100,
          valueFormatter: (p) => format(p.value, 2),
          cellClass: (p) => signed({ value: format(p.value, 2) }),
        }),
        decimalColumn("unrealised", "Unrealised", {
          colId: "unrealised",
          width: 100,
          valueGetter: (p) => {
            const open = p.data ? unrealisedPnl(p.data, reference(p.data.symbol)) : null;
            return open === null ? null : format(open, 2);
          },
          cellClass: signed,
        }),
        decimalColumn("total", "Total P&L", {
          colId: "total",
          width: 104,
          valueGetter: (p) => (p.data ? format(totalPnl(p.data, reference(p.data.symbol)), 2) : null),
          cellClass: signed,
        }),
        decimalColumn("bought", "Bought", { width: 84, hide: true }),
        decimalColumn("sold", "Sold", { width: 84, hide: true }),
        timeColumn("updated_at", "Updated"),
      ],
    });
  }

  refreshPrices() {
    this.api.refreshCells({ columns: ["reference", "unrealised", "total"] });
  }
}
