-- Deterministic seed for the retail sample: 3 currencies, 40 addresses, 30 customers, 10 staff,
-- 25 products and 1,000 sales orders, all stamped in 2026 before the first extract.
-- Four orders (every 250th) have units_sold = 0: the retail dataset's rules quarantine them.
INSERT INTO currency (currency_code, currency_name, created_at, last_updated) VALUES
    ('GBP', 'Pound sterling', '2026-01-01 09:00', '2026-01-01 09:00'),
    ('USD', 'US dollar', '2026-01-01 09:00', '2026-01-01 09:00'),
    ('EUR', 'Euro', '2026-01-01 09:00', '2026-01-01 09:00');

INSERT INTO address (address_line, city, postal_code, country, created_at, last_updated)
SELECT n || ' ' || (ARRAY['High Street', 'Station Road', 'Church Lane', 'Mill Road'])[1 + n % 4],
       (ARRAY['Leeds', 'Manchester', 'Lyon', 'Boston', 'Berlin', 'Austin', 'Porto', 'Glasgow'])[1 + n % 8],
       lpad((n * 37 % 90000 + 10000)::text, 5, '0'),
       (ARRAY['United Kingdom', 'United Kingdom', 'France', 'United States',
              'Germany', 'United States', 'Portugal', 'United Kingdom'])[1 + n % 8],
       timestamp '2026-01-02 08:00' + n * interval '1 hour',
       timestamp '2026-01-02 08:00' + n * interval '1 hour'
FROM generate_series(1, 40) AS n ORDER BY n;

INSERT INTO customer (customer_name, email, address_id, created_at, last_updated)
SELECT 'Customer ' || n, 'buyer' || n || '@example.com', n,
       timestamp '2026-01-03 08:00' + n * interval '1 hour',
       timestamp '2026-01-03 08:00' + n * interval '1 hour'
FROM generate_series(1, 30) AS n ORDER BY n;

INSERT INTO staff (first_name, last_name, department, email, created_at, last_updated)
SELECT (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara'])[1 + n % 5],
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov'])[1 + (n * 3) % 5],
       (ARRAY['Sales', 'Purchasing', 'Production', 'Dispatch'])[1 + n % 4],
       'staff' || n || '@example.com',
       timestamp '2026-01-04 08:00' + n * interval '1 hour',
       timestamp '2026-01-04 08:00' + n * interval '1 hour'
FROM generate_series(1, 10) AS n ORDER BY n;

INSERT INTO product (product_name, category, list_price, created_at, last_updated)
SELECT 'Product ' || n, (ARRAY['Chairs', 'Tables', 'Lamps', 'Rugs', 'Shelves'])[1 + n % 5],
       round(5 + n * 3.25, 2),
       timestamp '2026-01-05 08:00' + n * interval '1 hour',
       timestamp '2026-01-05 08:00' + n * interval '1 hour'
FROM generate_series(1, 25) AS n ORDER BY n;

INSERT INTO sales_order (customer_id, staff_id, product_id, currency_id, units_sold, unit_price,
                         agreed_delivery_date, created_at, last_updated)
SELECT 1 + n % 30, 1 + n % 10, 1 + n % 25, 1 + n % 3,
       CASE WHEN n % 250 = 0 THEN 0 ELSE 1 + (n * 7) % 50 END,
       round(5 + (1 + n % 25) * 3.25, 2),
       date '2026-01-10' + (n % 300),
       timestamp '2026-01-06 00:00' + n * interval '7 hours',
       timestamp '2026-01-06 00:00' + n * interval '7 hours'
FROM generate_series(1, 1000) AS n ORDER BY n;
