"""How many orders each account has, kept by PostgreSQL as orders_order changes, so that a page of
orders says its `count` without counting the account's orders (orders.pages): a statement-level
trigger adds what a statement inserted and takes off what it deleted, once per statement (the
engine's COPY of a batch: one upsert per account in it); TRUNCATE (rebuild_projections) empties it.
An order never changes account; a row trigger (a WHEN test, no call, in the common case) moves the
count if one ever did."""

from django.db import migrations

FORWARD = """
CREATE TABLE orders_account_order_count (
    account_code varchar(32) PRIMARY KEY,
    orders bigint NOT NULL
);
INSERT INTO orders_account_order_count (account_code, orders)
    SELECT account_code, count(*) FROM orders_order GROUP BY account_code;

CREATE FUNCTION orders_account_order_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orders_account_order_count AS counted (account_code, orders)
        SELECT account_code, count(*) FROM inserted GROUP BY account_code
        ON CONFLICT (account_code) DO UPDATE SET orders = counted.orders + excluded.orders;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_account_order_count_inserted AFTER INSERT ON orders_order
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION orders_account_order_count_inserted();

CREATE FUNCTION orders_account_order_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders_account_order_count AS counted SET orders = counted.orders - gone.orders
        FROM (SELECT account_code, count(*) AS orders FROM deleted GROUP BY account_code) AS gone
        WHERE counted.account_code = gone.account_code;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_account_order_count_deleted AFTER DELETE ON orders_order
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION orders_account_order_count_deleted();

CREATE FUNCTION orders_account_order_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders_account_order_count SET orders = orders - 1 WHERE account_code = OLD.account_code;
    INSERT INTO orders_account_order_count AS counted (account_code, orders) VALUES (NEW.account_code, 1)
        ON CONFLICT (account_code) DO UPDATE SET orders = counted.orders + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_account_order_count_moved AFTER UPDATE OF account_code ON orders_order
    FOR EACH ROW WHEN (OLD.account_code IS DISTINCT FROM NEW.account_code)
    EXECUTE FUNCTION orders_account_order_count_moved();

CREATE FUNCTION orders_account_order_count_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM orders_account_order_count;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_account_order_count_emptied AFTER TRUNCATE ON orders_order
    FOR EACH STATEMENT EXECUTE FUNCTION orders_account_order_count_emptied();
"""

BACKWARD = """
DROP TRIGGER orders_account_order_count_emptied ON orders_order;
DROP TRIGGER orders_account_order_count_moved ON orders_order;
DROP TRIGGER orders_account_order_count_deleted ON orders_order;
DROP TRIGGER orders_account_order_count_inserted ON orders_order;
DROP FUNCTION orders_account_order_count_emptied();
DROP FUNCTION orders_account_order_count_moved();
DROP FUNCTION orders_account_order_count_deleted();
DROP FUNCTION orders_account_order_count_inserted();
DROP TABLE orders_account_order_count;
"""


class Migration(migrations.Migration):
    dependencies = [("orders", "0009_snapshots")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
