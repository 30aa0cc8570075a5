/**
 * The demo's shop database: its schema and data (also used by the tests as a realistic
 * database), and the changes made after the backup that a restore would lose.
 */

/** The demo's shop: products feeding a merchant feed, and orders that reference them. */
export const SHOP_SCHEMA = `
CREATE TABLE merchants (
  id int PRIMARY KEY,
  name text NOT NULL,
  feed_url text NOT NULL
);
CREATE TABLE products (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  merchant_id int NOT NULL REFERENCES merchants(id),
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  price numeric(10,2) NOT NULL CHECK (price >= 0),
  stock int NOT NULL DEFAULT 0,
  attributes jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL
);
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_email text NOT NULL,
  status text NOT NULL CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
  created_at timestamptz NOT NULL
);
CREATE TABLE order_items (
  order_id bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  product_id bigint NOT NULL REFERENCES products(id),
  quantity int NOT NULL CHECK (quantity > 0),
  unit_price numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, product_id)
);
-- What the merchant platform reads every hour: break products and the feed breaks.
CREATE VIEW merchant_feed AS
  SELECT m.name AS merchant, p.sku, p.name, p.price, p.stock > 0 AS in_stock
    FROM products p JOIN merchants m ON m.id = p.merchant_id;

INSERT INTO merchants VALUES
  (1, 'Northwind Outdoor', 'https://feeds.example/northwind.xml'),
  (2, 'Contoso Kitchen', 'https://feeds.example/contoso.xml'),
  (3, 'Fabrikam Books', 'https://feeds.example/fabrikam.xml');
INSERT INTO products (merchant_id, sku, name, price, stock, attributes, updated_at)
  SELECT 1 + i % 3, 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, round((5 + (i * 7919) % 20000 / 100.0)::numeric, 2),
         (i * 31) % 120, jsonb_build_object('color', (ARRAY['red','green','blue','black'])[1 + i % 4], 'weight_g', 100 + i % 900),
         timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i)
    FROM generate_series(1, 2000) AS i;
INSERT INTO orders (customer_email, status, created_at)
  SELECT 'customer' || (i % 1500) || '@example.com', (ARRAY['new','paid','shipped','cancelled'])[1 + i % 4],
         timestamptz '2026-06-01 00:00:00+00' + make_interval(mins => i * 7)
    FROM generate_series(1, 5000) AS i;
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
  SELECT o, 1 + ((o * 13 + k * 101) % 2000), 1 + (o + k) % 3, 9.99 + k
    FROM generate_series(1, 5000) AS o, generate_series(1, 3) AS k;
`;

/** Business goes on after the backup: these are the changes a restore would lose. */
export const SHOP_NEW_ORDERS = `
INSERT INTO orders (customer_email, status, created_at)
  SELECT 'late' || i || '@example.com', 'new', timestamptz '2026-11-26 09:00:00+00' + make_interval(mins => i)
    FROM generate_series(1, 25) AS i`;
export const SHOP_STOCK_UPDATES = `
UPDATE products SET stock = stock - 1, updated_at = timestamptz '2026-11-26 09:30:00+00' WHERE id <= 40`;
