from django.core.management.base import BaseCommand

from projects.demo import demo_data_ensure


class Command(BaseCommand):
    help = "Create the demo users (staff and ordinary), project, workflow and job. Safe to run again."

    def handle(self, *args, **options):
        demo = demo_data_ensure()
        if demo.password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo user created. Log in as {demo.user.username!r} with password "
                    f"{demo.password!r} (shown only this once)."
                )
            )
        else:
            self.stdout.write(
                f"Demo user {demo.user.username!r} already exists; its password was shown when "
                f"it was created (change it with: manage.py changepassword {demo.user.username})."
            )
        if demo.member_password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Ordinary user created (an editor of the demo project, not staff): log in as "
                    f"{demo.member.username!r} with password {demo.member_password!r} (shown only this once)."
                )
            )
        self.stdout.write(
            f"Demo project {demo.project.name!r}, workflow {demo.workflow.name!r}, job {demo.job.name!r}."
        )
