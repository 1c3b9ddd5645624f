-- A day of activity on the retail sample, after the first extract: the second extract must read
-- exactly these rows: address 2, customer 7, staff 1, product 2, sales_order 30, currency 0.
INSERT INTO address (address_line, city, postal_code, country) VALUES
    ('1 Harbour Way', 'Porto', '40001', 'Portugal'),
    ('9 Canal Street', 'Manchester', '10009', 'United Kingdom');

-- five customers change their email; two new customers at the new addresses
UPDATE customer SET email = 'new.' || email WHERE customer_id BETWEEN 1 AND 5;
INSERT INTO customer (customer_name, email, address_id)
SELECT 'New customer ' || address_id, 'new' || address_id || '@example.com', address_id
FROM address WHERE address_line IN ('1 Harbour Way', '9 Canal Street');

UPDATE staff SET department = 'Dispatch' WHERE staff_id = 2;
UPDATE product SET list_price = round(list_price * 1.10, 2) WHERE product_id IN (3, 7);

-- ten orders are amended, twenty new ones arrive
UPDATE sales_order SET units_sold = units_sold + 1 WHERE sales_order_id BETWEEN 1 AND 10;
INSERT INTO sales_order (customer_id, staff_id, product_id, currency_id, units_sold, unit_price, agreed_delivery_date)
SELECT 1 + n % 30, 1 + n % 10, 1 + n % 25, 1 + n % 3, 2 + n % 5, round(5 + (1 + n % 25) * 3.25, 2),
       current_date + 7
FROM generate_series(1, 20) AS n ORDER BY n;
