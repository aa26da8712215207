-- Two limits that must hold under bursts and across tenants (contract §5,
-- auth "Limits"), and the request role's view of them.
--
-- Failed logins per client address: a login takes its *try* from the
-- address first, as the account lockout does (0007), so parallel failures
-- from one address cannot all be compared before any is counted: a try is
-- a row, inserted before the password is compared while fewer than the
-- limit are in the window, and deleted again after a successful login. The
-- request role no longer reads or writes the table (it held every tenant's
-- failed logins: addresses and times); it calls these two functions, which
-- see only the address they are given.
--
-- Mails per recipient: the limit counts every tenant's mail to an address,
-- so that creating tenants (each mailing its owner a verification) is not
-- a way to send one address unlimited mail. The request role calls
-- olympus_mail_take, which counts and records in the caller's transaction.
ALTER TABLE login_failures ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
REVOKE ALL ON login_failures FROM olympus_app;

-- A try for a login from p_ip, unless p_limit tries of the last
-- p_window_secs are counted: granted with the try's id (to release it after
-- a success), or refused with the oldest try's time (when the address may
-- try again). Tries from one address take turns.
CREATE FUNCTION olympus_address_try(
        p_ip text, p_now timestamptz, p_window_secs double precision, p_limit integer)
    RETURNS TABLE (try_id uuid, oldest timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_count bigint;
        v_oldest timestamptz;
        v_id uuid;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('login-address:' || p_ip, 0));
        SELECT count(*), min(f.failed_at) INTO v_count, v_oldest
          FROM public.login_failures f
         WHERE f.ip = p_ip AND f.failed_at > p_now - make_interval(secs => p_window_secs);
        IF v_count < p_limit THEN
            INSERT INTO public.login_failures (ip, failed_at) VALUES (p_ip, p_now)
            RETURNING id INTO v_id;
            v_oldest := NULL;
        END IF;
        RETURN QUERY SELECT v_id, v_oldest;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_address_try(text, timestamptz, double precision, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_address_try(text, timestamptz, double precision, integer) TO olympus_app;

-- Gives back the try p_id of a login that succeeded.
CREATE FUNCTION olympus_address_release(p_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        DELETE FROM public.login_failures WHERE id = p_id;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_address_release(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_address_release(uuid) TO olympus_app;

CREATE INDEX mail_log_recipient_all_tenants_idx ON mail_log (recipient, sent_at);
DROP INDEX mail_log_recipient_idx;
REVOKE ALL ON mail_log FROM olympus_app;

-- Records a mail of the transaction's tenant to p_recipient at p_now,
-- unless the address had p_limit mails (from any tenant) in the hour
-- before: NULL when recorded, else the oldest of those mails' time. Mails
-- to one address take turns until the caller's transaction ends, and the
-- record commits or rolls back with it.
CREATE FUNCTION olympus_mail_take(p_recipient text, p_now timestamptz, p_limit integer)
    RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_tenant uuid := public.olympus_current_tenant();
        v_count bigint;
        v_oldest timestamptz;
    BEGIN
        IF v_tenant IS NULL THEN
            RAISE EXCEPTION 'olympus_mail_take outside a tenant''s transaction';
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('mail:' || p_recipient, 0));
        SELECT count(*), min(m.sent_at) INTO v_count, v_oldest
          FROM public.mail_log m
         WHERE m.recipient = p_recipient AND m.sent_at > p_now - interval '1 hour';
        IF v_count >= p_limit THEN
            RETURN coalesce(v_oldest, p_now);
        END IF;
        INSERT INTO public.mail_log (tenant_id, recipient, sent_at)
        VALUES (v_tenant, p_recipient, p_now);
        RETURN NULL;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_mail_take(text, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_mail_take(text, timestamptz, integer) TO olympus_app;
