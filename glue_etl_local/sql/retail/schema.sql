-- The retail sample's operational schema (PostgreSQL 15+): what the `retail` dataset extracts.
-- Every table has created_at and last_updated; a trigger moves last_updated on every UPDATE,
-- as the application behind such a database would, so extraction by watermark sees changes.
DROP TABLE IF EXISTS sales_order, product, staff, customer, address, currency CASCADE;

CREATE OR REPLACE FUNCTION touch_last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_updated := clock_timestamp();
    RETURN NEW;
END $$;

CREATE TABLE currency (
    currency_id   serial PRIMARY KEY,
    currency_code char(3) NOT NULL UNIQUE,
    currency_name text NOT NULL,
    created_at    timestamp NOT NULL DEFAULT clock_timestamp(),
    last_updated  timestamp NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE address (
    address_id   serial PRIMARY KEY,
    address_line text NOT NULL,
    city         text NOT NULL,
    postal_code  text,
    country      text NOT NULL,
    created_at   timestamp NOT NULL DEFAULT clock_timestamp(),
    last_updated timestamp NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE customer (
    customer_id   serial PRIMARY KEY,
    customer_name text NOT NULL,
    email         text,
    address_id    int NOT NULL REFERENCES address,
    created_at    timestamp NOT NULL DEFAULT clock_timestamp(),
    last_updated  timestamp NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE staff (
    staff_id     serial PRIMARY KEY,
    first_name   text NOT NULL,
    last_name    text NOT NULL,
    department   text,
    email        text,
    created_at   timestamp NOT NULL DEFAULT clock_timestamp(),
    last_updated timestamp NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE product (
    product_id   serial PRIMARY KEY,
    product_name text NOT NULL,
    category     text,
    list_price   numeric(10, 2) NOT NULL,
    created_at   timestamp NOT NULL DEFAULT clock_timestamp(),
    last_updated timestamp NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE sales_order (
    sales_order_id       serial PRIMARY KEY,
    customer_id          int NOT NULL REFERENCES customer,
    staff_id             int NOT NULL REFERENCES staff,
    product_id           int NOT NULL REFERENCES product,
    currency_id          int NOT NULL REFERENCES currency,
    units_sold           int NOT NULL,
    unit_price           numeric(10, 2) NOT NULL,
    agreed_delivery_date date,
    created_at           timestamp NOT NULL DEFAULT clock_timestamp(),
    last_updated         timestamp NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX sales_order_last_updated ON sales_order (last_updated);

CREATE TRIGGER currency_touch BEFORE UPDATE ON currency FOR EACH ROW EXECUTE FUNCTION touch_last_updated();
CREATE TRIGGER address_touch BEFORE UPDATE ON address FOR EACH ROW EXECUTE FUNCTION touch_last_updated();
CREATE TRIGGER customer_touch BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION touch_last_updated();
CREATE TRIGGER staff_touch BEFORE UPDATE ON staff FOR EACH ROW EXECUTE FUNCTION touch_last_updated();
CREATE TRIGGER product_touch BEFORE UPDATE ON product FOR EACH ROW EXECUTE FUNCTION touch_last_updated();
CREATE TRIGGER sales_order_touch BEFORE UPDATE ON sales_order FOR EACH ROW EXECUTE FUNCTION touch_last_updated();
