// The live page: read models as they change, from the live queries
// (newline-delimited JSON streams through the edge). Statistics and
// inventory are watched; a change in the statistics (every order's change
// moves them) refreshes the list of recent orders. Plain DOM, no framework:
// three tables do not need one.
'use strict';

const RECENT_ORDERS = 15;
const $ = (id) => document.getElementById(id);
const money = (n) => (typeof n === 'number' ? n.toFixed(2) : '–');

/** Reads a newline-delimited JSON stream, calling onValue for each line; reconnects when it ends. */
function watch(name, url, onValue) {
  const badge = document.querySelector(`[data-stream="${name}"]`);
  let delay = 500;
  const connect = async () => {
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' } });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      if (badge) { badge.textContent = 'live'; badge.classList.add('live'); }
      delay = 500;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) onValue(JSON.parse(line));
        }
      }
    } catch (err) {
      console.warn(`${name} stream: ${err.message}`);
    }
    if (badge) { badge.textContent = 'reconnecting…'; badge.classList.remove('live'); }
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10_000);
  };
  connect();
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function statusBadge(status) {
  const span = document.createElement('span');
  span.className = `status status-${status}`;
  span.textContent = status;
  const td = document.createElement('td');
  td.appendChild(span);
  return td;
}

function showStatistics(s) {
  $('total-orders').textContent = s.total_orders;
  $('total-revenue').textContent = money(s.total_revenue);
  $('average-order').textContent = money(s.average_order_value);
  $('orders-last-hour').textContent = s.orders_last_hour;
  const list = $('by-status');
  list.replaceChildren(...Object.entries(s.orders_by_status || {}).sort().map(([status, n]) => {
    const li = document.createElement('li');
    li.textContent = `${status}: ${n}`;
    return li;
  }));
  refreshOrders();
}

// One refresh at a time; a change that comes during one asks for another after it.
let refreshing = false;
let again = false;
const shown = new Map(); // order id -> status shown

async function refreshOrders() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    do {
      again = false;
      const res = await fetch(`/cqrs/queries/orders?page_size=${RECENT_ORDERS}`);
      if (res.ok) showOrders((await res.json()).orders || []);
    } while (again);
  } catch (err) {
    console.warn(`orders: ${err.message}`);
  } finally {
    refreshing = false;
  }
}

function showOrders(orders) {
  $('order-rows').replaceChildren(...orders.map((o) => {
    const tr = document.createElement('tr');
    tr.dataset.orderId = o.order_id;
    tr.dataset.status = o.status;
    if (shown.has(o.order_id) && shown.get(o.order_id) !== o.status) tr.className = 'changed';
    shown.set(o.order_id, o.status);
    tr.append(cell(o.order_id.slice(0, 8)), cell(String(o.user_id)), cell(money(o.total_amount), 'num'), statusBadge(o.status), cell(new Date(o.updated_at || o.created_at).toLocaleTimeString()));
    return tr;
  }));
}

const products = new Map(); // product id -> row

function showItem(item) {
  let tr = products.get(item.product_id);
  const fresh = !tr;
  if (fresh) {
    tr = document.createElement('tr');
    tr.dataset.productId = String(item.product_id);
    products.set(item.product_id, tr);
    const rows = [...products.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    $('inventory-rows').replaceChildren(...rows);
  }
  tr.className = `${item.low_stock_alert ? 'low-stock' : ''}${fresh ? '' : ' changed'}`.trim();
  tr.replaceChildren(
    cell(String(item.product_id)), cell(item.product_name), cell(String(item.available_quantity), 'num'),
    cell(String(item.reserved_quantity), 'num'), cell(String(item.total_quantity), 'num'),
    cell(item.low_stock_alert ? `low (under ${item.low_stock_threshold})` : 'ok', item.low_stock_alert ? 'alert' : ''),
  );
}

watch('statistics', '/cqrs/queries/watch/statistics/orders', showStatistics);
watch('inventory', '/cqrs/queries/watch/inventory', showItem);
