Feature: Users by account, last logins and field types
  GET /users?account_id=X keeps only the members of account X (DPaaS API
  reference, users). A user who has logged in has a last login time; GET
  /users/{id}, where a target serves it, reads only the caller's organization.

  Background:
    Given the admin user is logged in

  @must @USER-4
  Scenario: The members of an account are listed, and nobody else
    When they walk every page of the users of the membership fixture's account
    Then every member of the fixture is seen exactly once and no non-member is
    And the total counts exactly the users seen

  @must @USER-5
  Scenario: Another organization's account lists none of that organization's users
    Given the other user is logged in
    And they have found an account of their organization that has members
    And the admin user is logged in
    When they list the users of the account the other user found
    Then the list is refused with a JSON error, or it holds none of the other organization's users

  @should @USER-5
  Scenario: Another organization's account is answered as an account id that never existed
    Given the other user is logged in
    And they have found an account of their organization that has members
    And the admin user is logged in
    When they list the users of the account the other user found, and of an id of its shape that never existed
    Then both answers are the same list or the same error

  @must @USER-6
  Scenario: A user who has logged in has a last login time
    When they look up their own user in the users list
    Then its "last_login_at" is a timestamp

  @should @USER-7
  Scenario: Every user's extra fields have the documented types
    When they walk every page of users ordered by "created_at", in pages of about a third
    Then every user seen has booleans for "is_active", "is_verified" and "mfa_enabled", an object for "metadata" and a string or null for "last_login_at"

  @must @USER-8
  Scenario: Filtered by account, the users list shows no secret and no other organization's user
    When they walk every page of the users of the membership fixture's account
    Then no user seen reveals a password, hash or secret
    And every user seen belongs to the admin user's organization

  @must @USER-9
  Scenario: GET /users/{id}, where it reads the caller's own user, never reads another organization's
    Given the other user is logged in
    And they have looked up their own user in the users list
    And the admin user is logged in
    When they get their own user by its id, and the other user's
    Then if their own user was read, the other user's was not
