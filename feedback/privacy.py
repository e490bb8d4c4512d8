"""Classification of every stored column: personal information or not (SECURITY.md row 38).

PIPL Arts. 6, 17, 19 and 51 ask for the least personal information, a notice saying what is
kept, why and for how long, and an inventory to manage it by. :data:`PERSONAL` lists each
column that holds personal information with its class, purpose and retention rule (the privacy
notice is rendered from it); :data:`NOT_PERSONAL` lists every other column. A test reflects the
SQLAlchemy metadata and fails when a column is in neither, so a new column is classified when it
is added. Ids that point at a user are keys, not personal information themselves: what they
point at is classified on ``user``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel.speaklater import LazyString

from feedback.i18n import lazy_gettext as _l


class PIClass(StrEnum):
    """Kinds of personal information the platform keeps."""

    CONTACT = "contact"  # a person's name, phone, e-mail address
    CREDENTIAL = "credential"  # what proves a person is who they say (hashed or encrypted)
    ACTIVITY = "activity"  # when and from where a person used the platform
    FREE_TEXT = "free_text"  # text people write, which may name or describe people


CLASS_LABELS: dict[PIClass, LazyString] = {
    PIClass.CONTACT: _l("联系信息"),
    PIClass.CREDENTIAL: _l("身份鉴别信息"),
    PIClass.ACTIVITY: _l("使用记录"),
    PIClass.FREE_TEXT: _l("填报内容中可能出现的个人信息"),
}

# Retention rules, as the code applies them today.
WHILE_ACCOUNT = _l(
    "账户存续期间保留；账户停用后仍保留（审计记录须能追溯到人），不自动删除，"
    "如需删除请联系安全管理员。"
)
UNTIL_REPLACED = _l("保存到修改或重置为止；旧值不保留。")
WITH_SUBMISSION = _l("随所属材料保存，作为规划实施情况的工作记录，不自动删除。")
AUDIT_RETENTION = _l(
    "随审计记录保存，至少 6 个月（默认 365 天，AUDIT_RETENTION_DAYS），期满后由 "
    "flask audit-purge 删除。"
)


@dataclass(frozen=True)
class PersonalColumn:
    """One column holding personal information."""

    pi_class: PIClass
    label: LazyString
    purpose: LazyString
    retention: LazyString


ACCOUNT = _l("登录、联系和通知本人；材料和审核意见注明经办人")
SIGN_IN = _l("核实登录者身份（密码只保存其 Argon2id 散列，TOTP 密钥加密保存）")
REPORT = _l("联合会核实、跟进园区和企业反映的问题")
AUDIT = _l("安全审计：追溯谁在何时从何处做了什么（网络安全法第二十一条）")
SESSIONS = _l("让本人和安全管理员看到并结束在线会话（每人至多 3 个）")
SESSION_RETENTION = _l("会话结束或过期后，由每日运行的 flask purge-sessions 删除。")

PERSONAL: dict[str, PersonalColumn] = {
    "user.name": PersonalColumn(PIClass.CONTACT, _l("用户姓名"), ACCOUNT, WHILE_ACCOUNT),
    "user.email": PersonalColumn(PIClass.CONTACT, _l("用户邮箱（登录名）"), ACCOUNT, WHILE_ACCOUNT),
    "user.phone": PersonalColumn(PIClass.CONTACT, _l("用户手机号"), ACCOUNT, WHILE_ACCOUNT),
    "user.password_hash": PersonalColumn(
        PIClass.CREDENTIAL, _l("密码散列"), SIGN_IN, UNTIL_REPLACED
    ),
    "user.mfa_secret": PersonalColumn(
        PIClass.CREDENTIAL, _l("动态口令（TOTP）密钥"), SIGN_IN, UNTIL_REPLACED
    ),
    "mfa_recovery_code.code_hash": PersonalColumn(
        PIClass.CREDENTIAL, _l("恢复码散列"), SIGN_IN, UNTIL_REPLACED
    ),
    "user.last_login_at": PersonalColumn(
        PIClass.ACTIVITY, _l("最近登录时间"),
        _l("停用长期不用的账户（90 天）"), UNTIL_REPLACED,
    ),
    "submission.contact_name": PersonalColumn(
        PIClass.CONTACT, _l("材料联系人姓名"), REPORT, WITH_SUBMISSION
    ),
    "submission.contact_phone": PersonalColumn(
        PIClass.CONTACT, _l("材料联系人电话"), REPORT, WITH_SUBMISSION
    ),
    "submission_revision.snapshot_json": PersonalColumn(
        PIClass.CONTACT, _l("材料历史版本（含联系人）"),
        _l("保留每次报送的原样，供核对修改"), WITH_SUBMISSION,
    ),
    "submission.title": PersonalColumn(PIClass.FREE_TEXT, _l("材料标题"), REPORT, WITH_SUBMISSION),
    "submission.summary": PersonalColumn(
        PIClass.FREE_TEXT, _l("材料摘要"), REPORT, WITH_SUBMISSION
    ),
    "submission.sections_json": PersonalColumn(
        PIClass.FREE_TEXT, _l("材料正文"), REPORT, WITH_SUBMISSION
    ),
    "submission.abstract": PersonalColumn(
        PIClass.FREE_TEXT, _l("审核摘要"), REPORT, WITH_SUBMISSION
    ),
    "submission_comment.body": PersonalColumn(
        PIClass.FREE_TEXT, _l("审核意见和留言"), REPORT, WITH_SUBMISSION
    ),
    "submission_event.note": PersonalColumn(
        PIClass.FREE_TEXT, _l("办理说明"), REPORT, WITH_SUBMISSION
    ),
    "audit_record.actor_email": PersonalColumn(
        PIClass.ACTIVITY, _l("审计记录中的操作人邮箱"), AUDIT, AUDIT_RETENTION
    ),
    "user_session.ip": PersonalColumn(
        PIClass.ACTIVITY, _l("登录会话的 IP 地址"), SESSIONS, SESSION_RETENTION
    ),
    "user_session.user_agent": PersonalColumn(
        PIClass.ACTIVITY, _l("登录会话的浏览器标识"), SESSIONS, SESSION_RETENTION
    ),
    "audit_record.ip": PersonalColumn(
        PIClass.ACTIVITY, _l("审计记录中的 IP 地址"), AUDIT, AUDIT_RETENTION
    ),
    "audit_record.detail": PersonalColumn(
        PIClass.ACTIVITY, _l("审计记录的操作详情（如登录所用邮箱、文件名）"), AUDIT,
        AUDIT_RETENTION,
    ),
}  # fmt: skip

# Every other column, by table: ids, keys, states, times, codes, and text about organisations,
# the plan, reports and files rather than about people.
NOT_PERSONAL: dict[str, str] = {
    "api_token": "id prefix secret_hash owner_id name scopes created_at expires_at revoked_at "
    "last_used_at",
    "attachment": "id submission_id original_name stored_name media_type size sha256 uploader_id "
    "created_at",
    "audit_anchor": "id at purged_before purged_count last_id last_at last_hash",
    "audit_record": "id at actor_id actor_roles actor_org_id action object_type object_id outcome "
    "request_id prev_hash hash",
    "campaign": "id title period opens_on due_on instructions target_description created_by_id "
    "created_at",
    "cache_version": "name value",
    "campaign_target": "campaign_id organisation_id",
    "consolidated_plan_item": "consolidated_id plan_item_id",
    "consolidated_source": "id consolidated_id submission_id linked_by_id linked_at removed_by_id "
    "removed_at",
    "consolidated_suggestion": "id title description suggestion basis department created_by_id "
    "updated_by_id version created_at updated_at",
    "export_job": "id user_id file_format query columns status rows_total rows_done filename "
    "stored_name sha256 size error created_at started_at heartbeat_at attempts finished_at "
    "expires_at",
    "import_batch": "id token user_id organisation_id kind original_name stored_name status "
    "created_at result_summary submit_rows rows_total started_at heartbeat_at error",
    "mfa_recovery_code": "id user_id salt used_at",
    "ministry_response": "id version_id item_key submission_id consolidated_id verdict note "
    "responded_on recorded_by_id recorded_at",
    "notification": "id user_id kind title body link created_at read_at",
    "organisation": "id name short_name kind uscc uscc_check_overridden region_code affiliation "
    "park_grade park_grade_year park_level park_batch requires_approval notes active created_at "
    "updated_at",
    "plan_item": "id plan_version code parent_id name description sort_order active created_at",
    "reference_counter": "year last",
    "report": "id title period_label period_start period_end campaign_id issuer created_by_id "
    "created_at updated_at version",
    "report_item": "id report_id position submission_id consolidated_id wording added_by_id "
    "added_at",
    "report_version": "id report_id number frozen_by_id frozen_at filename sha256 size workbook "
    "snapshot sent_on sent_channel document_number sent_by_id",
    "saved_view": "id user_id name query created_at",
    "similarity_band": "submission_id band bucket",
    "similarity_link": "id submission_a_id submission_b_id score status decided_by_id decided_at "
    "created_at",
    "similarity_signature": "submission_id minhash updated_at",
    "submission": "id reference organisation_id author_id campaign_id kind status region_code "
    "sector sensitivity anonymous idempotency_key revision late assignee_id priority version "
    "similar_hint created_at updated_at submitted_at",
    "submission_comment": "id submission_id author_id visibility created_at",
    "submission_event": "id submission_id at actor_id action from_status to_status revision",
    "submission_plan_item": "submission_id plan_item_id",
    "submission_revision": "id submission_id number author_id created_at",
    "submission_tag": "submission_id tag_id",
    "tag": "id group_id name sort_order active created_at",
    "tag_group": "id code name sort_order active",
    "user": "id organisation_id must_change_password password_changed_at failed_logins "
    "locked_until session_version mfa_enabled_at mfa_last_step active created_at reactivated_at",
    "user_role": "user_id role",
    "user_session": "id token_hash user_id created_at ended_at ended_reason",
}


def not_personal_columns() -> set[str]:
    """``table.column`` of every column classified as not personal information."""
    return {f"{table}.{name}" for table, names in NOT_PERSONAL.items() for name in names.split()}


def by_class() -> list[tuple[PIClass, list[PersonalColumn]]]:
    """The personal columns grouped by class, in the order of :class:`PIClass` (for the notice)."""
    return [(c, [p for p in PERSONAL.values() if p.pi_class == c]) for c in PIClass]
