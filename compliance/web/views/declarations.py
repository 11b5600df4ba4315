"""Bulk declarations in the officer UI: upload a spreadsheet, see what it would change (the dry run, with a
progress bar), then commit it; the blank template and the export of what is on record in the same form.

Only officers and admins import, and only for organizations in their triage scope (the import refuses
rows for any other family as unknown); a job is visible to its uploader alone.
"""
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import FormView, TemplateView

from inventory.declaration_sheets import FORMATS, SHEETS, SheetFormatError, format_of, sheets_write
from inventory.declarations_export import declarations_export_sheets

from ..declaration_jobs import job_create, job_get, job_progress, job_update
from ..tasks import declarations_job_run
from .base import StaffRoleRequiredMixin

PREVIEW_ROWS = 1000  # rows listed on the page; the counts cover all of them
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class UploadForm(forms.Form):
    file = forms.FileField()
    format = forms.ChoiceField(choices=[("", "from the file name"), *((f, f.upper()) for f in FORMATS)],
                               required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Every request body is capped before any view reads it (config.limits); larger files take the command.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        self.fields["file"].help_text = (f"CSV or XLSX in the template's columns; at most {limit // 1024} KiB "
                                         "(larger files: manage.py declarations import)")


class OfficerRequiredMixin(StaffRoleRequiredMixin):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not self.triage_scope.granted:
            raise PermissionDenied("importing declarations needs an officer or admin role")
        return super().dispatch(request, *args, **kwargs)

    def job(self) -> dict:
        job = job_get(job_id=self.kwargs["job_id"], user_id=self.request.user.pk)
        if job is None:
            raise Http404("no such import (it may have expired: upload the file again)")
        return job


class DeclarationUploadView(OfficerRequiredMixin, FormView):
    form_class = UploadForm
    template_name = "web/declarations_upload.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(sheets=SHEETS, formats=FORMATS, **kwargs)

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        try:
            fmt = format_of(upload.name, form.cleaned_data["format"] or None)
        except SheetFormatError:
            form.add_error("format", "the file name ends in neither .csv nor .xlsx: choose the format")
            return self.form_invalid(form)
        job_id = job_create(user_id=self.request.user.pk, file_name=upload.name, fmt=fmt, data=upload.read())
        return redirect("web:declarations-job", job_id=job_id)


class DeclarationJobView(OfficerRequiredMixin, TemplateView):
    template_name = "web/declarations_job.html"

    def get_context_data(self, **kwargs):
        job = self.job()
        report = job["report"]
        can_commit = bool(job["phase"] == "check" and job["state"] == "done" and report and not report["errors"]
                          and any(c["create"] or c["update"] for c in report["counts"].values()))
        return super().get_context_data(
            job={key: value for key, value in job.items() if key != "data"}, report=report,
            progress=job_progress(job_id=job["id"]), can_commit=can_commit,
            rows=[row for row in report["outcomes"] if row["action"] != "unchanged"][:PREVIEW_ROWS] if report else [],
            preview_limit=PREVIEW_ROWS, **kwargs)


class DeclarationJobRunView(OfficerRequiredMixin, View):
    """POST phase=check|commit: queue the dry run or the commit (in embedded mode it runs in this request)."""

    def post(self, request, job_id):
        job = self.job()
        commit = request.POST.get("phase") == "commit"
        checked = job["phase"] == "check" and job["state"] == "done" and job["report"] and not job["report"]["errors"]
        if commit and not checked:
            return self._answer(request, job, 409, "commit only a file whose check found no bad row")
        if job["state"] in ("queued", "running"):
            return self._answer(request, job, 409, f"this file's {job['phase']} is already under way")
        job_update(job=job, phase="commit" if commit else "check", state="queued")
        declarations_job_run.delay(job["id"], request.user.pk, commit)
        return self._answer(request, job_get(job_id=job["id"], user_id=request.user.pk) or job, 202, "")

    @staticmethod
    def _answer(request, job, status, problem):
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"state": job["state"], "phase": job["phase"], "problem": problem}, status=status)
        if problem:
            messages.error(request, problem)
        return redirect("web:declarations-job", job_id=job["id"])


class DeclarationJobProgressView(OfficerRequiredMixin, View):
    def get(self, request, job_id):
        job = self.job()
        return JsonResponse({"phase": job["phase"], "state": job["state"], "problem": job.get("problem", ""),
                             **job_progress(job_id=job["id"])})


class DeclarationFileView(StaffRoleRequiredMixin, View):
    """GET: the blank template, or (export) the declarations the viewer may read, in the same columns."""

    export = False

    def get(self, request, fmt):
        if fmt not in FORMATS:
            raise Http404("csv or xlsx")
        sheets = declarations_export_sheets(scope=self.read_scope) if self.export else {}
        name = "declarations" if self.export else "declarations-template"
        response = HttpResponse(sheets_write(sheets=sheets, fmt=fmt), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
        return response
