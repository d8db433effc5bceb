Feature: Listing users
  GET /users lists the users of the caller's organization in the common list
  format ("Your First API Call", common patterns; DPaaS API reference, users).

  Background:
    Given the admin user is logged in

  @must @USER-1 @LIST-1
  Scenario: Users are listed with every documented field
    When they list users
    Then the response status is 200
    And the response body is a list of users
    And the users include the admin user

  @should @USER-1
  Scenario: Users carry their status, verification, MFA, metadata and last login
    When they list users
    Then the response status is 200
    And every user has the fields "is_active", "is_verified", "mfa_enabled", "metadata" and "last_login_at"

  # USER-2 also judges every answer the suite reads, the wrong-password answers of AUTH-5's
  # scenarios included, so no failed login of a configured principal is spent here.
  @must @USER-2
  Scenario Outline: No password, hash or secret appears in <what>
    When they fetch <what>
    Then the response reveals no password, hash or secret

    Examples:
      | what                      |
      | the users list            |
      | a login response          |
      | a created account         |

  @must @USER-3
  Scenario: Every listed user belongs to the caller's organization
    When they walk every page of users ordered by "created_at", in pages of about a third
    Then every user seen belongs to the caller's organization
