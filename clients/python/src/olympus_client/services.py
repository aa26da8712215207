# Generated from contracts/spec/v1.json by contracts/src/python.rs: do not edit.
# `UPDATE_SPEC=1 cargo test -p olympus-contracts` rewrites it; a test fails when it is stale.
"""One method per operation, grouped by service: `client.auth.login(...)`.

Every argument is keyword-only. An optional field left out is not sent (in
an update, `None` sends nil, which removes the value). Bearer operations
take the access `token`; operations that accept one take an
`idempotency_key`. Each returns the reply's model, whose `correlation_id`
is the request's; an error reply raises its `errors` class.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from . import models
from ._base import UNSET, Caller, Unset
from .models import Address, EventType, Money, NewOwner, OrderItemRequest, OrderStatus, PaymentMethod, ProductStatus, PromotionKind, PromotionStatus, Role, Secret, TenantStatus


class AuthService:
    """The `auth` operations ({prefix}.auth.v1.*)."""

    # Each method's operation.
    OPERATIONS: ClassVar[dict[str, str]] = {
        "register": "auth.register",
        "login": "auth.login",
        "refresh": "auth.refresh",
        "logout": "auth.logout",
        "logout_all": "auth.logout_all",
        "me": "auth.me",
        "update_me": "auth.update_me",
        "verify_email": "auth.verify_email",
        "resend_verification": "auth.resend_verification",
        "request_password_reset": "auth.request_password_reset",
        "reset_password": "auth.reset_password",
        "change_password": "auth.change_password",
        "sessions_list": "auth.sessions.list",
        "sessions_revoke": "auth.sessions.revoke",
        "introspect": "auth.introspect",
        "accept_invite": "auth.accept_invite",
        "login_mfa": "auth.login_mfa",
        "jwks": "auth.jwks",
        "mfa_status": "auth.mfa.status",
        "mfa_totp_enroll": "auth.mfa.totp.enroll",
        "mfa_totp_confirm": "auth.mfa.totp.confirm",
        "mfa_disable": "auth.mfa.disable",
        "mfa_recovery_codes_regenerate": "auth.mfa.recovery_codes.regenerate",
        "change_email": "auth.change_email",
        "confirm_email_change": "auth.confirm_email_change",
        "delete_me": "auth.delete_me",
        "export_me": "auth.export_me",
    }

    def __init__(self, call: Caller) -> None:
        self._call = call

    async def register(
        self,
        *,
        email: str,
        password: Secret,
        tenant: str,
        display_name: str | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.SessionReply:
        """`auth.register` (public, anyone).

        `auth.register` (P): joins a tenant that allows self-registration.
        """
        return await self._call(
            "auth.v1.register",
            models.RegisterRequest,
            models.SessionReply,
            {"email": email, "password": password, "tenant": tenant, "display_name": display_name},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def login(
        self,
        *,
        email: str,
        password: Secret,
        tenant: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.LoginReply:
        """`auth.login` (public, anyone).

        `auth.login` (P).
        """
        return await self._call(
            "auth.v1.login",
            models.LoginRequest,
            models.LoginReplyAdapter,
            {"email": email, "password": password, "tenant": tenant},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def refresh(
        self,
        *,
        refresh_token: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.RefreshReply:
        """`auth.refresh` (public, anyone).

        `auth.refresh` (P).
        """
        return await self._call(
            "auth.v1.refresh",
            models.RefreshRequest,
            models.RefreshReply,
            {"refresh_token": refresh_token},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def logout(
        self,
        *,
        refresh_token: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.logout` (public, anyone).

        `auth.logout` (P): revokes the session of the refresh token.
        """
        return await self._call(
            "auth.v1.logout",
            models.LogoutRequest,
            models.Empty,
            {"refresh_token": refresh_token},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def logout_all(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.LogoutAllReply:
        """`auth.logout_all` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.logout_all",
            models.Empty,
            models.LogoutAllReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def me(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.UserReply:
        """`auth.me` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.me",
            models.Empty,
            models.UserReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def update_me(
        self,
        *,
        token: str,
        display_name: str | None | Unset = UNSET,
        phone: str | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.UserReply:
        """`auth.update_me` (bearer, member).

        `auth.update_me` (B): changes the caller's own profile. An absent field
        is left as it is; `phone: nil` removes the phone.
        """
        return await self._call(
            "auth.v1.update_me",
            models.UpdateMeRequest,
            models.UserReply,
            {"display_name": display_name, "phone": phone},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def verify_email(
        self,
        *,
        token: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.UserReply:
        """`auth.verify_email` (public, anyone).

        `auth.verify_email` (P).
        """
        return await self._call(
            "auth.v1.verify_email",
            models.VerifyEmailRequest,
            models.UserReply,
            {"token": token},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def resend_verification(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.resend_verification` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.resend_verification",
            models.Empty,
            models.Empty,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def request_password_reset(
        self,
        *,
        email: str,
        tenant: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.request_password_reset` (public, anyone).

        `auth.request_password_reset` (P): mails a reset token when the account
        exists; the reply is `{}` either way.
        """
        return await self._call(
            "auth.v1.request_password_reset",
            models.RequestPasswordResetRequest,
            models.Empty,
            {"email": email, "tenant": tenant},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def reset_password(
        self,
        *,
        new_password: Secret,
        token: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.reset_password` (public, anyone).

        `auth.reset_password` (P): a reset token from the mail and the new
        password. Every session of the user ends; a lockout is lifted.
        """
        return await self._call(
            "auth.v1.reset_password",
            models.ResetPasswordRequest,
            models.Empty,
            {"new_password": new_password, "token": token},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def change_password(
        self,
        *,
        token: str,
        current_password: Secret,
        new_password: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.RefreshReply:
        """`auth.change_password` (bearer, member).

        `auth.change_password` (B): every other session ends; the reply carries
        the tokens of a fresh one.
        """
        return await self._call(
            "auth.v1.change_password",
            models.ChangePasswordRequest,
            models.RefreshReply,
            {"current_password": current_password, "new_password": new_password},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def sessions_list(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.SessionsReply:
        """`auth.sessions.list` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.sessions.list",
            models.Empty,
            models.SessionsReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def sessions_revoke(
        self,
        *,
        token: str,
        session_id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.sessions.revoke` (bearer, member).

        `auth.sessions.revoke` (B): ends one of the caller's sessions.
        """
        return await self._call(
            "auth.v1.sessions.revoke",
            models.RevokeSessionRequest,
            models.Empty,
            {"session_id": session_id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def introspect(
        self,
        *,
        access_token: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.IntrospectReply:
        """`auth.introspect` (public, anyone).

        `auth.introspect` (P): what an access token stands for, now.
        """
        return await self._call(
            "auth.v1.introspect",
            models.IntrospectRequest,
            models.IntrospectReply,
            {"access_token": access_token},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def accept_invite(
        self,
        *,
        password: Secret,
        token: Secret,
        display_name: str | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.SessionReply:
        """`auth.accept_invite` (public, anyone).

        `auth.accept_invite` (P): joins the tenant of an invitation, whose token
        came by mail. The new member's email counts as verified.
        """
        return await self._call(
            "auth.v1.accept_invite",
            models.AcceptInviteRequest,
            models.SessionReply,
            {"password": password, "token": token, "display_name": display_name},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def login_mfa(
        self,
        *,
        mfa_token: Secret,
        code: Secret | None | Unset = UNSET,
        recovery_code: Secret | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.SessionReply:
        """`auth.login_mfa` (public, anyone).

        `auth.login_mfa` (P, revision 3): the second step of a login, with
        exactly one of `code` (TOTP) and `recovery_code`. Every failure is
        `invalid_credentials`.
        """
        return await self._call(
            "auth.v1.login_mfa",
            models.LoginMfaRequest,
            models.SessionReply,
            {"mfa_token": mfa_token, "code": code, "recovery_code": recovery_code},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def jwks(
        self,
        *,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.JwksReply:
        """`auth.jwks` (public, anyone).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.jwks",
            models.Empty,
            models.JwksReply,
            {},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def mfa_status(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.MfaStatusReply:
        """`auth.mfa.status` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.mfa.status",
            models.Empty,
            models.MfaStatusReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def mfa_totp_enroll(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.TotpEnrollReply:
        """`auth.mfa.totp.enroll` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.mfa.totp.enroll",
            models.Empty,
            models.TotpEnrollReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def mfa_totp_confirm(
        self,
        *,
        token: str,
        code: Secret,
        enrollment_id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.RecoveryCodesReply:
        """`auth.mfa.totp.confirm` (bearer, member).

        `auth.mfa.totp.confirm` (B, revision 3): turns TOTP on with a code
        from the enrolled authenticator.
        """
        return await self._call(
            "auth.v1.mfa.totp.confirm",
            models.TotpConfirmRequest,
            models.RecoveryCodesReply,
            {"code": code, "enrollment_id": enrollment_id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def mfa_disable(
        self,
        *,
        token: str,
        password: Secret,
        code: Secret | None | Unset = UNSET,
        recovery_code: Secret | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.mfa.disable` (bearer, member).

        `auth.mfa.disable` (B, revision 3): the password and exactly one of
        `code` (TOTP) and `recovery_code`. Every other session of the user is
        revoked.
        """
        return await self._call(
            "auth.v1.mfa.disable",
            models.MfaDisableRequest,
            models.Empty,
            {"password": password, "code": code, "recovery_code": recovery_code},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def mfa_recovery_codes_regenerate(
        self,
        *,
        token: str,
        code: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.RecoveryCodesReply:
        """`auth.mfa.recovery_codes.regenerate` (bearer, member).

        `auth.mfa.recovery_codes.regenerate` (B, revision 3): a fresh TOTP
        code for ten new recovery codes; the old ones stop working.
        """
        return await self._call(
            "auth.v1.mfa.recovery_codes.regenerate",
            models.RegenerateRecoveryCodesRequest,
            models.RecoveryCodesReply,
            {"code": code},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def change_email(
        self,
        *,
        token: str,
        new_email: str,
        password: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.change_email` (bearer, member).

        `auth.change_email` (B, revision 3): mails a token confirming the move
        to `new_email`, only there; nothing changes until it is confirmed.
        """
        return await self._call(
            "auth.v1.change_email",
            models.ChangeEmailRequest,
            models.Empty,
            {"new_email": new_email, "password": password},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def confirm_email_change(
        self,
        *,
        token: Secret,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.UserReply:
        """`auth.confirm_email_change` (public, anyone).

        `auth.confirm_email_change` (P, revision 3): the token of an
        `email_change` mail. The account moves to the new address (verified),
        every other session of the user ends, and the old address is told.
        """
        return await self._call(
            "auth.v1.confirm_email_change",
            models.ConfirmEmailChangeRequest,
            models.UserReply,
            {"token": token},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def delete_me(
        self,
        *,
        token: str,
        password: Secret,
        code: Secret | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`auth.delete_me` (bearer, member).

        `auth.delete_me` (B, revision 3): erases the caller's personal data in
        this tenant, with their password and, when TOTP is on, a `code`: a
        TOTP code or one of their recovery codes.
        """
        return await self._call(
            "auth.v1.delete_me",
            models.DeleteMeRequest,
            models.Empty,
            {"password": password, "code": code},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def export_me(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ExportMeReply:
        """`auth.export_me` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "auth.v1.export_me",
            models.Empty,
            models.ExportMeReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )


class TenantService:
    """The `tenant` operations ({prefix}.tenant.v1.*)."""

    # Each method's operation.
    OPERATIONS: ClassVar[dict[str, str]] = {
        "create": "tenant.create",
        "get": "tenant.get",
        "update": "tenant.update",
        "members_list": "tenant.members.list",
        "members_set_role": "tenant.members.set_role",
        "members_remove": "tenant.members.remove",
        "members_invite": "tenant.members.invite",
        "members_invitations_list": "tenant.members.invitations.list",
        "members_invitations_revoke": "tenant.members.invitations.revoke",
        "list": "tenant.list",
        "suspend": "tenant.suspend",
        "reactivate": "tenant.reactivate",
        "audit_list": "tenant.audit.list",
    }

    def __init__(self, call: Caller) -> None:
        self._call = call

    async def create(
        self,
        *,
        name: str,
        owner: NewOwner,
        slug: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.CreateTenantReply:
        """`tenant.create` (public, anyone).

        `tenant.create` (P): a tenant and its owner, in one transaction.
        """
        return await self._call(
            "tenant.v1.create",
            models.CreateTenantRequest,
            models.CreateTenantReply,
            {"name": name, "owner": owner, "slug": slug},
            token=None,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def get(
        self,
        *,
        token: str,
        id: UUID | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.TenantReply:
        """`tenant.get` (bearer, member).

        `tenant.get` (B): the caller's own tenant when `id` is absent.
        """
        return await self._call(
            "tenant.v1.get",
            models.GetTenantRequest,
            models.TenantReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def update(
        self,
        *,
        token: str,
        name: str | None | Unset = UNSET,
        require_mfa: bool | None | Unset = UNSET,
        self_registration: bool | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.TenantReply:
        """`tenant.update` (bearer, admin).

        `tenant.update` (owner, admin): an absent field is left as it is.
        """
        return await self._call(
            "tenant.v1.update",
            models.UpdateTenantRequest,
            models.TenantReply,
            {"name": name, "require_mfa": require_mfa, "self_registration": self_registration},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def members_list(
        self,
        *,
        token: str,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfUser:
        """`tenant.members.list` (bearer, admin).

        The page request of every list operation: `{limit?: 1..100 (default
        20), cursor?}`. A cursor is the `next_cursor` of the previous page of
        the same operation, tenant and filter; anything else is `bad_request`.
        """
        return await self._call(
            "tenant.v1.members.list",
            models.PageRequest,
            models.PageOfUser,
            {"cursor": cursor, "limit": limit},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def members_set_role(
        self,
        *,
        token: str,
        role: Role,
        user_id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.UserReply:
        """`tenant.members.set_role` (bearer, owner).

        `tenant.members.set_role` (owner).
        """
        return await self._call(
            "tenant.v1.members.set_role",
            models.SetRoleRequest,
            models.UserReply,
            {"role": role, "user_id": user_id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def members_remove(
        self,
        *,
        token: str,
        user_id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`tenant.members.remove` (bearer, admin).

        `tenant.members.remove` (owner, admin): the member's sessions end.
        """
        return await self._call(
            "tenant.v1.members.remove",
            models.RemoveMemberRequest,
            models.Empty,
            {"user_id": user_id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def members_invite(
        self,
        *,
        token: str,
        email: str,
        role: Role,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.InvitationReply:
        """`tenant.members.invite` (bearer, Idempotency-Key, admin).

        `tenant.members.invite` (owner, admin; only owners invite admins).
        """
        return await self._call(
            "tenant.v1.members.invite",
            models.InviteRequest,
            models.InvitationReply,
            {"email": email, "role": role},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def members_invitations_list(
        self,
        *,
        token: str,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfInvitation:
        """`tenant.members.invitations.list` (bearer, admin).

        The page request of every list operation: `{limit?: 1..100 (default
        20), cursor?}`. A cursor is the `next_cursor` of the previous page of
        the same operation, tenant and filter; anything else is `bad_request`.
        """
        return await self._call(
            "tenant.v1.members.invitations.list",
            models.PageRequest,
            models.PageOfInvitation,
            {"cursor": cursor, "limit": limit},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def members_invitations_revoke(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.Empty:
        """`tenant.members.invitations.revoke` (bearer, admin).

        `tenant.members.invitations.revoke` (owner, admin).
        """
        return await self._call(
            "tenant.v1.members.invitations.revoke",
            models.RevokeInvitationRequest,
            models.Empty,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def list(
        self,
        *,
        token: str,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        status: TenantStatus | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfTenant:
        """`tenant.list` (bearer, platform_admin).

        `tenant.list` (platform admin): a page of tenants, optionally of one
        status.
        """
        return await self._call(
            "tenant.v1.list",
            models.ListTenantsRequest,
            models.PageOfTenant,
            {"cursor": cursor, "limit": limit, "status": status},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def suspend(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.TenantReply:
        """`tenant.suspend` (bearer, platform_admin).

        `tenant.suspend` and `tenant.reactivate` (platform admin).
        """
        return await self._call(
            "tenant.v1.suspend",
            models.TenantIdRequest,
            models.TenantReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def reactivate(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.TenantReply:
        """`tenant.reactivate` (bearer, platform_admin).

        `tenant.suspend` and `tenant.reactivate` (platform admin).
        """
        return await self._call(
            "tenant.v1.reactivate",
            models.TenantIdRequest,
            models.TenantReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def audit_list(
        self,
        *,
        token: str,
        actor_id: UUID | None | Unset = UNSET,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        since: datetime | None | Unset = UNSET,
        type: EventType | None | Unset = UNSET,
        until: datetime | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfEnvelope:
        """`tenant.audit.list` (bearer, admin).

        `tenant.audit.list` (owner, admin; revision 3): the tenant's events,
        newest first, a page at a time; each filter narrows it.
        """
        return await self._call(
            "tenant.v1.audit.list",
            models.AuditListRequest,
            models.PageOfEnvelope,
            {"actor_id": actor_id, "cursor": cursor, "limit": limit, "since": since, "type": type, "until": until},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )


class CommerceService:
    """The `commerce` operations ({prefix}.commerce.v1.*)."""

    # Each method's operation.
    OPERATIONS: ClassVar[dict[str, str]] = {
        "products_create": "commerce.products.create",
        "products_get": "commerce.products.get",
        "products_list": "commerce.products.list",
        "products_update": "commerce.products.update",
        "inventory_adjust": "commerce.inventory.adjust",
        "products_variants_create": "commerce.products.variants.create",
        "products_variants_update": "commerce.products.variants.update",
        "promotions_create": "commerce.promotions.create",
        "promotions_get": "commerce.promotions.get",
        "promotions_list": "commerce.promotions.list",
        "promotions_update": "commerce.promotions.update",
        "carts_create": "commerce.carts.create",
        "carts_get": "commerce.carts.get",
        "carts_items_set": "commerce.carts.items.set",
        "carts_update": "commerce.carts.update",
        "carts_checkout": "commerce.carts.checkout",
        "orders_create": "commerce.orders.create",
        "orders_get": "commerce.orders.get",
        "orders_list": "commerce.orders.list",
        "orders_cancel": "commerce.orders.cancel",
        "orders_fulfill": "commerce.orders.fulfill",
        "payments_authorize": "commerce.payments.authorize",
        "payments_capture": "commerce.payments.capture",
        "payments_void": "commerce.payments.void",
        "payments_refund": "commerce.payments.refund",
    }

    def __init__(self, call: Caller) -> None:
        self._call = call

    async def products_create(
        self,
        *,
        token: str,
        name: str,
        price: Money,
        sku: str,
        description: str | None | Unset = UNSET,
        stock: int | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ProductReply:
        """`commerce.products.create` (bearer, Idempotency-Key, admin).

        `commerce.products.create` (owner, admin; I).
        """
        return await self._call(
            "commerce.v1.products.create",
            models.CreateProductRequest,
            models.ProductReply,
            {"name": name, "price": price, "sku": sku, "description": description, "stock": stock},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def products_get(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ProductReply:
        """`commerce.products.get` (bearer, member).

        `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
        `orders.fulfill`: one resource by id.
        """
        return await self._call(
            "commerce.v1.products.get",
            models.IdRequest,
            models.ProductReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def products_list(
        self,
        *,
        token: str,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        q: str | None | Unset = UNSET,
        status: ProductStatus | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfProduct:
        """`commerce.products.list` (bearer, member).

        `commerce.products.list`: a page, optionally of one status, optionally
        matching `q` in name or SKU (case-insensitive).
        """
        return await self._call(
            "commerce.v1.products.list",
            models.ListProductsRequest,
            models.PageOfProduct,
            {"cursor": cursor, "limit": limit, "q": q, "status": status},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def products_update(
        self,
        *,
        token: str,
        id: UUID,
        description: str | None | Unset = UNSET,
        name: str | None | Unset = UNSET,
        price: Money | None | Unset = UNSET,
        status: ProductStatus | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ProductReply:
        """`commerce.products.update` (bearer, admin).

        `commerce.products.update` (owner, admin): absent fields stay.
        """
        return await self._call(
            "commerce.v1.products.update",
            models.UpdateProductRequest,
            models.ProductReply,
            {"id": id, "description": description, "name": name, "price": price, "status": status},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def inventory_adjust(
        self,
        *,
        token: str,
        delta: int,
        product_id: UUID | None | Unset = UNSET,
        reason: str | None | Unset = UNSET,
        variant_id: UUID | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ProductReply:
        """`commerce.inventory.adjust` (bearer, Idempotency-Key, admin).

        `commerce.inventory.adjust` (owner, admin; I): adds `delta` (negative
        to remove; at most 10^9 either way) to the stock, which stays 0 to
        10^9 (`invalid_state`, `details.state` `insufficient_stock` or
        `stock_limit`, otherwise; `orders.cancel` keeps the same bound).
        """
        return await self._call(
            "commerce.v1.inventory.adjust",
            models.AdjustInventoryRequest,
            models.ProductReply,
            {"delta": delta, "product_id": product_id, "reason": reason, "variant_id": variant_id},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def products_variants_create(
        self,
        *,
        token: str,
        option_values: dict[str, str],
        price: Money,
        product_id: UUID,
        sku: str,
        stock: int | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ProductReply:
        """`commerce.products.variants.create` (bearer, Idempotency-Key, admin).

        `commerce.products.variants.create` (owner, admin; I; revision 3): adds
        a variant with its option values (1 to 3 options, names and values of 1
        to 40 characters, at most 20 values per option; the same option names
        as the product's other variants with options), its own SKU, a price in
        the product's currency, and stock.
        """
        return await self._call(
            "commerce.v1.products.variants.create",
            models.CreateVariantRequest,
            models.ProductReply,
            {"option_values": option_values, "price": price, "product_id": product_id, "sku": sku, "stock": stock},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def products_variants_update(
        self,
        *,
        token: str,
        id: UUID,
        price: Money | None | Unset = UNSET,
        status: ProductStatus | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.ProductReply:
        """`commerce.products.variants.update` (bearer, admin).

        `commerce.products.variants.update` (owner, admin; revision 3): absent
        fields stay.
        """
        return await self._call(
            "commerce.v1.products.variants.update",
            models.UpdateVariantRequest,
            models.ProductReply,
            {"id": id, "price": price, "status": status},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def promotions_create(
        self,
        *,
        token: str,
        code: str,
        kind: PromotionKind,
        amount: Money | None | Unset = UNSET,
        ends_at: datetime | None | Unset = UNSET,
        min_subtotal: Money | None | Unset = UNSET,
        per_customer_limit: int | None | Unset = UNSET,
        percent: int | None | Unset = UNSET,
        starts_at: datetime | None | Unset = UNSET,
        usage_limit: int | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PromotionReply:
        """`commerce.promotions.create` (bearer, Idempotency-Key, admin).

        `commerce.promotions.create` (owner, admin; I; revision 3): `percent`
        for a `percentage`, `amount` for a `fixed_amount`, not the other.
        """
        return await self._call(
            "commerce.v1.promotions.create",
            models.CreatePromotionRequest,
            models.PromotionReply,
            {"code": code, "kind": kind, "amount": amount, "ends_at": ends_at, "min_subtotal": min_subtotal, "per_customer_limit": per_customer_limit, "percent": percent, "starts_at": starts_at, "usage_limit": usage_limit},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def promotions_get(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PromotionReply:
        """`commerce.promotions.get` (bearer, admin).

        `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
        `orders.fulfill`: one resource by id.
        """
        return await self._call(
            "commerce.v1.promotions.get",
            models.IdRequest,
            models.PromotionReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def promotions_list(
        self,
        *,
        token: str,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        status: PromotionStatus | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfPromotion:
        """`commerce.promotions.list` (bearer, admin).

        `commerce.promotions.list` (owner, admin; revision 3): a page, newest
        last, optionally of one status.
        """
        return await self._call(
            "commerce.v1.promotions.list",
            models.ListPromotionsRequest,
            models.PageOfPromotion,
            {"cursor": cursor, "limit": limit, "status": status},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def promotions_update(
        self,
        *,
        token: str,
        id: UUID,
        ends_at: datetime | None | Unset = UNSET,
        status: PromotionStatus | None | Unset = UNSET,
        usage_limit: int | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PromotionReply:
        """`commerce.promotions.update` (bearer, admin).

        `commerce.promotions.update` (owner, admin; revision 3): absent fields
        stay; nil removes an end or a limit.
        """
        return await self._call(
            "commerce.v1.promotions.update",
            models.UpdatePromotionRequest,
            models.PromotionReply,
            {"id": id, "ends_at": ends_at, "status": status, "usage_limit": usage_limit},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def carts_create(
        self,
        *,
        token: str,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.CartReply:
        """`commerce.carts.create` (bearer, member).

        The empty request or reply `{}`.
        """
        return await self._call(
            "commerce.v1.carts.create",
            models.Empty,
            models.CartReply,
            {},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def carts_get(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.CartReply:
        """`commerce.carts.get` (bearer, member).

        `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
        `orders.fulfill`: one resource by id.
        """
        return await self._call(
            "commerce.v1.carts.get",
            models.IdRequest,
            models.CartReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def carts_items_set(
        self,
        *,
        token: str,
        cart_id: UUID,
        quantity: int,
        variant_id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.CartReply:
        """`commerce.carts.items.set` (bearer, member).

        `commerce.carts.items.set` (revision 3): the line of `variant_id` gets
        `quantity` (1 to 10,000); 0 removes it.
        """
        return await self._call(
            "commerce.v1.carts.items.set",
            models.SetCartItemRequest,
            models.CartReply,
            {"cart_id": cart_id, "quantity": quantity, "variant_id": variant_id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def carts_update(
        self,
        *,
        token: str,
        cart_id: UUID,
        billing_address: Address | None | Unset = UNSET,
        contact_phone: str | None | Unset = UNSET,
        promotion_code: str | None | Unset = UNSET,
        shipping_address: Address | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.CartReply:
        """`commerce.carts.update` (bearer, member).

        `commerce.carts.update` (revision 3): absent fields stay; nil removes.
        """
        return await self._call(
            "commerce.v1.carts.update",
            models.UpdateCartRequest,
            models.CartReply,
            {"cart_id": cart_id, "billing_address": billing_address, "contact_phone": contact_phone, "promotion_code": promotion_code, "shipping_address": shipping_address},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def carts_checkout(
        self,
        *,
        token: str,
        cart_id: UUID,
        payment_method: PaymentMethod | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.CheckoutReply:
        """`commerce.carts.checkout` (bearer, Idempotency-Key, member).

        `commerce.carts.checkout` (I; revision 3): the cart becomes an order;
        with `payment_method`, its total is then authorized.
        """
        return await self._call(
            "commerce.v1.carts.checkout",
            models.CheckoutRequest,
            models.CheckoutReply,
            {"cart_id": cart_id, "payment_method": payment_method},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def orders_create(
        self,
        *,
        token: str,
        items: list[OrderItemRequest],
        billing_address: Address | None | Unset = UNSET,
        contact_phone: str | None | Unset = UNSET,
        shipping_address: Address | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.OrderReply:
        """`commerce.orders.create` (bearer, Idempotency-Key, member).

        `commerce.orders.create` (any member; I): priced on the server; 1 to
        100 lines, one per variant (a second line of the same variant, or
        product, is `validation_failed` naming it).
        """
        return await self._call(
            "commerce.v1.orders.create",
            models.CreateOrderRequest,
            models.OrderReply,
            {"items": items, "billing_address": billing_address, "contact_phone": contact_phone, "shipping_address": shipping_address},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def orders_get(
        self,
        *,
        token: str,
        id: UUID,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.OrderReply:
        """`commerce.orders.get` (bearer, member).

        `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
        `orders.fulfill`: one resource by id.
        """
        return await self._call(
            "commerce.v1.orders.get",
            models.IdRequest,
            models.OrderReply,
            {"id": id},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def orders_list(
        self,
        *,
        token: str,
        cursor: str | None | Unset = UNSET,
        limit: int | None | Unset = UNSET,
        status: OrderStatus | None | Unset = UNSET,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PageOfOrder:
        """`commerce.orders.list` (bearer, member).

        `commerce.orders.list`: members see their own orders, owners and admins
        all of the tenant's.
        """
        return await self._call(
            "commerce.v1.orders.list",
            models.ListOrdersRequest,
            models.PageOfOrder,
            {"cursor": cursor, "limit": limit, "status": status},
            token=token,
            idempotency_key=None,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def orders_cancel(
        self,
        *,
        token: str,
        id: UUID,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.OrderReply:
        """`commerce.orders.cancel` (bearer, Idempotency-Key, member).

        `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
        `orders.fulfill`: one resource by id.
        """
        return await self._call(
            "commerce.v1.orders.cancel",
            models.IdRequest,
            models.OrderReply,
            {"id": id},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def orders_fulfill(
        self,
        *,
        token: str,
        id: UUID,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.OrderReply:
        """`commerce.orders.fulfill` (bearer, Idempotency-Key, admin).

        `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
        `orders.fulfill`: one resource by id.
        """
        return await self._call(
            "commerce.v1.orders.fulfill",
            models.IdRequest,
            models.OrderReply,
            {"id": id},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def payments_authorize(
        self,
        *,
        token: str,
        method: PaymentMethod,
        order_id: UUID,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PaymentReply:
        """`commerce.payments.authorize` (bearer, Idempotency-Key, member).

        `commerce.payments.authorize` (any member, for their order; I).
        """
        return await self._call(
            "commerce.v1.payments.authorize",
            models.AuthorizePaymentRequest,
            models.PaymentReply,
            {"method": method, "order_id": order_id},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def payments_capture(
        self,
        *,
        token: str,
        payment_id: UUID,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PaymentReply:
        """`commerce.payments.capture` (bearer, Idempotency-Key, admin).

        `commerce.payments.capture` and `payments.void` (owner, admin; I).
        """
        return await self._call(
            "commerce.v1.payments.capture",
            models.PaymentIdRequest,
            models.PaymentReply,
            {"payment_id": payment_id},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def payments_void(
        self,
        *,
        token: str,
        payment_id: UUID,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PaymentReply:
        """`commerce.payments.void` (bearer, Idempotency-Key, admin).

        `commerce.payments.capture` and `payments.void` (owner, admin; I).
        """
        return await self._call(
            "commerce.v1.payments.void",
            models.PaymentIdRequest,
            models.PaymentReply,
            {"payment_id": payment_id},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    async def payments_refund(
        self,
        *,
        token: str,
        payment_id: UUID,
        amount: Money | None | Unset = UNSET,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> models.PaymentReply:
        """`commerce.payments.refund` (bearer, Idempotency-Key, admin).

        `commerce.payments.refund` (owner, admin; I): all that is left of the
        capture when `amount` is absent.
        """
        return await self._call(
            "commerce.v1.payments.refund",
            models.RefundPaymentRequest,
            models.PaymentReply,
            {"payment_id": payment_id, "amount": amount},
            token=token,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            timeout=timeout,
        )

